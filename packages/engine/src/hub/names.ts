/**
 * What the Hub accepts as a revision (branch, tag, `refs/pr/N` or 40-hex commit) and as a repo id, checked before
 * a name goes into a Hub API path: `..`, `.` or empty segments would be collapsed by URL parsing into another API
 * path of the same repo. The revision rules are git's ref-name rules (git check-ref-format) plus no `%`, since the
 * Hub decodes percent escapes (`%2e%2e` is `..` again).
 */
const MAX_REVISION = 200;
const MAX_REPO_ID = 96;
const FORBIDDEN_REVISION_CHARS = /[~^:?*[\\%]/;

function hasControlOrSpace(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return true;
  }
  return false;
}
const REPO_PART = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Why `revision` is not a name the Hub accepts, or undefined when it is one. */
export function revisionProblem(revision: string): string | undefined {
  if (revision === "") return "the revision is empty";
  if (revision.length > MAX_REVISION) return `the revision is longer than ${MAX_REVISION} characters`;
  if (hasControlOrSpace(revision) || FORBIDDEN_REVISION_CHARS.test(revision))
    return "the revision has a control character, a space or one of ~ ^ : ? * [ \\ %";
  if (revision.includes("..") || revision.includes("@{")) return 'the revision contains ".." or "@{"';
  const segments = revision.split("/");
  if (segments.some((s) => s === "")) return "the revision has an empty path segment (a leading, trailing or double /)";
  if (segments.some((s) => s.startsWith(".") || s.endsWith(".lock")))
    return 'a revision segment starts with "." or ends with ".lock"';
  if (revision.endsWith(".")) return 'the revision ends with "."';
  return undefined;
}

/** Why `repo` is not a Hub repo id (`name` or `org/name`), or undefined when it is one. */
export function repoIdProblem(repo: string): string | undefined {
  if (repo.length > MAX_REPO_ID) return `the repo id is longer than ${MAX_REPO_ID} characters`;
  const parts = repo.split("/");
  if (parts.length > 2) return "a repo id has at most one /: org/name";
  if (!parts.every((p) => REPO_PART.test(p)))
    return "each part of a repo id is letters, digits, _ . - and starts with a letter or digit";
  if (parts.some((p) => p.includes("..") || p.includes("--") || p.endsWith(".")))
    return 'a repo id part contains ".." or "--", or ends with "."';
  return undefined;
}
