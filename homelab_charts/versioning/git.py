"""The few ``git`` commands versioning needs, run as subprocesses in one repository."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from homelab_charts.errors import HomelabError
from homelab_charts.versioning.tags import TagError, normalize_sha

#: What GitHub sends as "before" when a branch is created: no base to compare with.
NULL_SHA = "0" * 40


class GitError(HomelabError):
    """A git command failed (not a repository, unknown revision...)."""


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str
    files: tuple[str, ...]

    @property
    def short(self) -> str:
        return self.sha[:7]

    @property
    def subject(self) -> str:
        return self.message.strip().partition("\n")[0]


class Git:
    """A repository: ``Git(path).run("rev-parse", "HEAD")``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def run(self, *args: str, check: bool = True, input: str | None = None) -> str:
        env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat"}
        try:
            proc = subprocess.run(
                ["git", "-C", str(self.path), *args], capture_output=True, text=True,
                encoding="utf-8", errors="replace", env=env, check=False, input=input,
            )
        except FileNotFoundError:
            raise GitError("git is not installed (it is needed to read versions)") from None
        if check and proc.returncode != 0:
            detail = proc.stderr.strip().splitlines()
            reason = detail[-1] if detail else f"exit status {proc.returncode}"
            raise GitError(f"git {' '.join(args[:2])} in {self.path}: {reason}")
        return proc.stdout

    def toplevel(self) -> Path:
        return Path(self.run("rev-parse", "--show-toplevel").strip())

    def resolve(self, ref: str) -> str:
        """The full commit id ``ref`` names; GitError if it names no commit."""
        if ref.startswith("-"):
            raise GitError(f"{ref!r} is not a revision")
        out = self.run("rev-parse", "--verify", "--quiet", "--end-of-options",
                       f"{ref}^{{commit}}", check=False).strip()
        if not out:
            raise GitError(f"{ref!r} names no commit in {self.path}")
        return out

    def try_resolve(self, ref: str) -> str | None:
        try:
            return self.resolve(ref)
        except GitError:
            return None

    def is_shallow(self) -> bool:
        return self.run("rev-parse", "--is-shallow-repository").strip() == "true"

    def tags_merged(self, commit: str, pattern: str) -> list[str]:
        """Tags matching ``pattern`` (a git wildcard) whose commit is an ancestor of ``commit``."""
        out = self.run("tag", "--list", "--merged", commit, pattern)
        return [line.strip() for line in out.splitlines() if line.strip()]

    def tags_at(self, commit: str, pattern: str) -> list[str]:
        out = self.run("tag", "--list", "--points-at", commit, pattern)
        return [line.strip() for line in out.splitlines() if line.strip()]

    def tag_exists(self, name: str) -> bool:
        return self.try_resolve(f"refs/tags/{name}") is not None

    def create_tag(self, name: str, commit: str, message: str) -> None:
        self.run("tag", "--annotate", "--message", message, "--end-of-options", name, commit)

    def log(self, revisions: Sequence[str]) -> list[Commit]:
        """Non-merge commits of ``revisions`` (e.g. ``["v1..HEAD"]``), newest first, with files."""
        out = self.run("log", "--no-merges", "--no-renames", "-z", "--name-only",
                       "--format=%x1e%H%x1f%B%x1f", *revisions, "--")
        commits = []
        for record in out.split("\x1e")[1:]:
            sha, message, files = record.split("\x1f", 2)
            names = tuple(f.strip("\n") for f in files.split("\x00") if f.strip("\n"))
            commits.append(Commit(sha.strip(), message.strip("\n"), names))
        return commits

    def file_history(self, path: str, rev: str = "HEAD") -> list[str]:
        """Commits of ``rev``'s history that changed ``path``, newest first."""
        return self.run("log", "--format=%H", rev, "--", path).split()

    def blobs(self, specs: Sequence[str]) -> list[bytes | None]:
        """The contents of ``<commit>:<path>`` specs in one ``git cat-file --batch``.

        A spec that names no file gives None.
        """
        if not specs:
            return []
        if any("\n" in spec for spec in specs):
            raise GitError("a blob name contains a line break")
        env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
        try:
            proc = subprocess.run(
                ["git", "-C", str(self.path), "cat-file", "--batch"], capture_output=True,
                input="".join(f"{spec}\n" for spec in specs).encode("utf-8"), env=env,
                check=False,
            )
        except FileNotFoundError:
            raise GitError("git is not installed (it is needed to read versions)") from None
        if proc.returncode != 0:
            reason = proc.stderr.decode("utf-8", "replace").strip() or "failed"
            raise GitError(f"git cat-file in {self.path}: {reason}")
        out, pos, blobs = proc.stdout, 0, []
        for _ in specs:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if header[-1] in (b"missing", b"ambiguous") or len(header) != 3:
                blobs.append(None)  # "<spec> missing": no object follows
                continue
            size = int(header[2])
            blobs.append(out[pos:pos + size] if header[1] == b"blob" else None)
            pos += size + 1
        return blobs

    def changed_files(self, base: str, head: str) -> list[str]:
        """Files that differ between the merge base of ``base`` and ``head``, and ``head``."""
        out = self.run("diff", "--name-only", "--no-renames", "-z", f"{base}...{head}", "--")
        return [f for f in out.split("\x00") if f]


def resolve_sha(git: Git | None, *, sha: str | None = None, ref: str | None = None,
                environ: Mapping[str, str] | None = None) -> str:
    """The GIT_SHA of the build: ``sha`` > ``ref`` > ``$GITHUB_SHA`` > ``HEAD``, 7 lower hex."""
    env = os.environ if environ is None else environ
    if sha is not None:
        return normalize_sha(sha, where="--sha")
    if ref is None and env.get("GITHUB_SHA"):
        try:
            return normalize_sha(env["GITHUB_SHA"], where="GITHUB_SHA")
        except TagError as exc:
            raise GitError(str(exc)) from None
    if git is None:
        raise GitError("no commit id: pass --sha, set GITHUB_SHA or run inside a git repository")
    return normalize_sha(git.resolve(ref or "HEAD"), where="git rev-parse")
