// Relative links in Markdown, and whether they resolve: the file (or folder) must
// exist, and an #anchor must name a heading of the target page, spelled as GitHub
// spells heading ids. Links inside code (fenced blocks, `spans`) are no links.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export interface Link {
  /** The Markdown file it is in, relative to the root. */
  from: string;
  line: number;
  target: string;
}

const blank = (s: string) => s.replace(/[^\n]/g, ' ');

/** The text with fenced code blocks blanked out, so that line numbers stay. */
function withoutFences(text: string): string {
  return text.replace(/^(```|~~~)[\s\S]*?^\1[^\n]*$/gm, blank);
}

/** The text with fenced code blocks and code spans blanked out. */
function withoutCode(text: string): string {
  return withoutFences(text).replace(/`[^`\n]*`/g, blank);
}

export function linksIn(root: string, file: string): Link[] {
  const text = withoutCode(readFileSync(join(root, file), 'utf8'));
  const links: Link[] = [];
  const patterns = [/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g, /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm];
  for (const pattern of patterns) {
    for (const m of text.matchAll(pattern)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, ...
      links.push({ from: file, line: text.slice(0, m.index).split('\n').length, target });
    }
  }
  return links.sort((a, b) => a.line - b.line);
}

/** GitHub's ids of a page's headings: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
export function headingIds(markdown: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of withoutFences(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = m[1]!
      .replace(/<[^>]+>/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n === 0 ? base : `${base}-${n}`);
  }
  // Explicit HTML anchors (the generated API reference marks each property with <a id="...">).
  for (const m of withoutFences(markdown).matchAll(/<a\s+(?:[^>]*\s)?(?:id|name)="([^"]+)"/g)) ids.add(m[1]!);
  return ids;
}

/** Why the link does not resolve, or undefined when it does. */
export function deadLink(root: string, link: Link): string | undefined {
  const [path, anchor] = link.target.split('#', 2) as [string, string | undefined];
  const file = path === '' ? join(root, link.from) : join(root, dirname(link.from), decodeURIComponent(path));
  const where = relative(root, file);
  if (where.startsWith('..')) return `${link.target} leaves the repository`;
  if (!existsSync(file)) return `${where} does not exist`;
  if (anchor === undefined || anchor === '') return undefined;
  if (statSync(file).isDirectory() || !file.endsWith('.md')) return `#${anchor} points into ${where}, which is no Markdown page`;
  if (!headingIds(readFileSync(file, 'utf8')).has(anchor)) return `${where} has no heading #${anchor}`;
  return undefined;
}
