// An ignore file (.funcignore) read with gitignore's rules, as azd reads it (Azure/azure-dev uses
// github.com/denormal/go-gitignore: gitignore.go, Relative), for the patterns exosend's files use:
// names, `dir/*`, `*.ext`, `.git*`, a trailing `/` (directories only), `!` negation. Not handled,
// and refused rather than misread: `**`, `?`, character classes, escapes.

export interface IgnoreRules {
  /** The last rule that matches `path` itself (relative, `/`-separated), as go-gitignore's Relative: true when it excludes. Undefined when none matches. */
  match(path: string, isDir: boolean): boolean | undefined;
  /** Git's whole answer for a path listed flat: excluded by its own rules or inside an excluded directory. */
  ignored: (path: string) => boolean;
}

interface Rule {
  negated: boolean;
  dirOnly: boolean;
  regex: RegExp;
}

export function ignoreRules(text: string): IgnoreRules {
  const rules: Rule[] = text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      if (/\*\*|[?[\]\\]/.test(line)) throw new Error(`ignore pattern this reader does not handle: ${line}`);
      const negated = line.startsWith('!');
      const body = negated ? line.slice(1) : line;
      const dirOnly = body.endsWith('/');
      const pattern = body.replace(/^\//, '').replace(/\/$/, '');
      const regex = pattern
        .split('')
        .map((c) => (c === '*' ? '[^/]*' : /[.+^${}()|]/.test(c) ? `\\${c}` : c))
        .join('');
      // a pattern with a slash is anchored to the file's folder; one without matches a name at any depth
      const anchored = body.replace(/\/$/, '').includes('/') ? `^${regex}$` : `(^|/)${regex}$`;
      return { negated, dirOnly, regex: new RegExp(anchored) };
    });
  const match = (path: string, isDir: boolean): boolean | undefined => {
    for (let i = rules.length - 1; i >= 0; i--) {
      const rule = rules[i]!;
      if ((!rule.dirOnly || isDir) && rule.regex.test(path)) return !rule.negated;
    }
    return undefined;
  };
  const ignored = (path: string): boolean => {
    const parts = path.split('/');
    for (let depth = 1; depth < parts.length; depth++) if (match(parts.slice(0, depth).join('/'), true)) return true;
    return match(path, false) ?? false;
  };
  return { match, ignored };
}
