// What TypeDoc needs to read this package as its users see it:
// - the two public entries are named as they are imported (`sandbox-procs`,
//   `sandbox-procs/emulator`), not after their files (`index`, `emulator`);
// - an alias of a generated schema (`type HopxExecuteResult = Schemas['ExecuteResponse']`,
//   or `Omit<Schemas['StreamExecuteMessage'], 'type'>`) shows the schema's fields, not
//   the indexed access, which names a type the reference does not include (TypeDoc's
//   `@useDeclaredType`, for every such alias);
// - openapi-typescript writes a spec's `description` as an `@description` tag, which
//   TypeDoc does not know: it becomes the field's summary, so the spec's words show;
//   and a schema's `const` as an `@constant` tag, which is known as a tag and dropped;
// - a field of a generated schema that the spec leaves undescribed is not an
//   undocumented symbol of ours: the spec is where it would be described, and most
//   such fields (`stdout`, `exit_code`) name themselves. Every hand-written symbol
//   must still be documented (the validation in scripts/api-docs.mjs fails otherwise).
import { Application, Converter, ReflectionKind } from 'typedoc';
import ts from 'typescript';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const MODULE_NAMES = { 'src/index.ts': 'sandbox-procs', 'src/emulator/index.ts': 'sandbox-procs/emulator' };
const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const GENERATED = /^generated\//;

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.on(Application.EVENT_BOOTSTRAP_END, () => {
    app.options.setValue('blockTags', [...new Set([...app.options.getValue('blockTags'), '@description', '@constant'])]);
  });

  // Runs after TypeDoc attaches the comment and before it converts the alias's type.
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (reflection.kindOf(ReflectionKind.Module)) {
      const file = context.getSymbolFromReflection(reflection)?.declarations?.[0]?.getSourceFile().fileName;
      const name = file && MODULE_NAMES[relative(packageRoot, file)];
      if (name) reflection.name = name;
    }
    if (reflection.kindOf(ReflectionKind.TypeAlias) && indexesIntoAType(context.getSymbolFromReflection(reflection)?.declarations?.[0]?.type)) {
      reflection.comment?.modifierTags.add('@useDeclaredType');
    }
  });

  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const { project } = context;
    for (const reflection of Object.values(project.reflections)) descriptionAsSummary(reflection.comment);
  });

  app.converter.on(Converter.EVENT_RESOLVE_END, (context) => {
    const { project } = context;
    const required = app.options.getValue('requiredToBeDocumented').reduce((kinds, kind) => kinds | ReflectionKind[kind], 0);
    const undescribed = project
      .getReflectionsByKind(required)
      .filter((reflection) => !reflection.hasComment() && !insideParameter(reflection))
      .filter((reflection) => GENERATED.test(project.getSymbolIdFromReflection(reflection)?.packagePath ?? ''))
      .map((reflection) => reflection.getFriendlyFullName());
    app.options.setValue('intentionallyNotDocumented', [...new Set(undescribed)]);
  });
}

/** `A['b']`, or a union, an intersection or a generic (`Omit<A['b'], 'k'>`) with one in it. */
function indexesIntoAType(node) {
  if (!node) return false;
  if (ts.isIndexedAccessTypeNode(node)) return true;
  if (ts.isTypeReferenceNode(node)) return node.typeArguments?.some(indexesIntoAType) ?? false;
  if (ts.isParenthesizedTypeNode(node)) return indexesIntoAType(node.type);
  if (ts.isUnionTypeNode(node) || ts.isIntersectionTypeNode(node)) return node.types.some(indexesIntoAType);
  return false;
}

/** TypeDoc's validation skips what a parameter's type declares; naming it as exempt would be an unused exemption. */
function insideParameter(reflection) {
  for (let parent = reflection.parent; parent; parent = parent.parent) if (parent.kindOf(ReflectionKind.Parameter)) return true;
  return false;
}

/** @param {import('typedoc').Comment | undefined} comment */
function descriptionAsSummary(comment) {
  const tag = comment?.blockTags.find((block) => block.tag === '@description');
  if (!comment || !tag) return;
  comment.summary = comment.summary.length > 0 ? [...comment.summary, { kind: 'text', text: '\n\n' }, ...tag.content] : tag.content;
  comment.removeTags('@description');
}
