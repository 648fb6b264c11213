"""The tree as a Flux OCI artifact: ``homelab-charts push`` and ``pull``.

:func:`push_tree` packages one cluster's tree at a git commit the way ``flux push
artifact`` does (fluxcd/pkg ``oci``), so source-controller's OCIRepository reads it like
any artifact Flux's CLI pushed:

* an OCI image manifest (``application/vnd.oci.image.manifest.v1+json``) whose config has
  the media type ``application/vnd.cncf.flux.config.v1+json`` and whose one layer,
  ``application/vnd.cncf.flux.content.v1.tar+gzip``, is a gzipped tarball of the files;
* the annotations ``org.opencontainers.image.source`` (the repository's URL, without
  credentials), ``org.opencontainers.image.revision`` (``<branch>@sha1:<commit>``) and
  ``org.opencontainers.image.created`` (RFC 3339);
* the tarball as fluxcd/pkg ``tar.Tar`` writes it: a walk of the folder in lexical order
  (the root ``.`` first, each folder before what it holds), USTAR headers with the uid,
  gid, user and group names and every time zeroed, directory names without a trailing
  slash; the config as go-containerregistry writes it for such an image.

Reproducible: the files come from the commit (git objects, not the working tree), every
file is mode 0644 (0755 when git records it executable) and every folder 0755, the gzip
header has no name and mtime 0, and ``created`` is the commit's time, not the time of the
push. The same commit always gives the same manifest digest; another commit with the same
tree gives the same layer. (Go's deflate differs from zlib's, so the compressed layer is
not byte for byte the one ``flux push artifact`` would write; the tarball inside is.)

Which files: ``clusters/<cluster>/`` (without ``flux-system/``, bootstrap's),
``infrastructure/`` and ``apps/`` — the paths the tree's Kustomizations name
(``./clusters/<cluster>``, ``./infrastructure/...``, ``./apps/...``) are paths of the
artifact. Registry traffic goes through ``oras`` (HTTPS; plain HTTP with ``insecure``);
credentials come from the Docker config (``$DOCKER_CONFIG/config.json``, else
``~/.docker/config.json``, as ``docker login`` writes it).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from homelab_charts.errors import ConfigError

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.cncf.flux.config.v1+json"
CONTENT_MEDIA_TYPE = "application/vnd.cncf.flux.content.v1.tar+gzip"
SOURCE_ANNOTATION = "org.opencontainers.image.source"
REVISION_ANNOTATION = "org.opencontainers.image.revision"
CREATED_ANNOTATION = "org.opencontainers.image.created"

#: The most a pulled layer may unpack to (fluxcd/pkg tar's default limit).
MAX_UNPACKED_BYTES = 100 << 20
#: The most a pulled manifest or config may weigh.
MAX_DOCUMENT_BYTES = 4 << 20
#: Seconds to wait for the registry to answer one request.
TIMEOUT = 30

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)"
                         r"[a-z0-9]+)*)*$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$|^\[[0-9a-fA-F:]+\](?::[0-9]{1,5})?$")


# -- references -------------------------------------------------------------------------

@dataclass(frozen=True)
class Reference:
    """``oci://REGISTRY/REPOSITORY:TAG`` (or ``@sha256:...`` to pull one digest)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, url: str, *, need_tag: bool = False) -> Reference:
        where = url
        if not isinstance(url, str) or not url.startswith("oci://"):
            raise ConfigError(str(where), None, "must start with oci:// "
                                                "(oci://REGISTRY/REPOSITORY:TAG)")
        rest = url[len("oci://"):]
        registry, slash, path = rest.partition("/")
        if not slash or not path or not _HOST.match(registry):
            raise ConfigError(where, None, "expected oci://REGISTRY/REPOSITORY:TAG "
                                           "(e.g. oci://registry.homelab.lan:5000/homelab-tree:main)")
        digest = tag = None
        if "@" in path:
            path, _, digest = path.partition("@")
            if not _DIGEST.match(digest):
                raise ConfigError(where, None, f"{digest!r} is not a sha256:<64 hex> digest")
        elif ":" in path.rsplit("/", 1)[-1]:
            path, _, tag = path.rpartition(":")
            if not _TAG.match(tag):
                raise ConfigError(where, None, f"{tag!r} is not a valid tag")
        if not _REPOSITORY.match(path):
            raise ConfigError(where, None, f"{path!r} is not a valid repository name "
                                           "(lower-case letters, digits, . _ - and /)")
        if need_tag and tag is None:
            raise ConfigError(where, None, "name the tag to push (oci://REGISTRY/REPOSITORY:TAG)")
        if tag is None and digest is None:
            tag = "latest"
        return cls(registry, path, tag, digest)

    @property
    def name(self) -> str:
        """``REGISTRY/REPOSITORY:TAG`` (or ``@DIGEST``), as oras names a container."""
        suffix = f"@{self.digest}" if self.digest else f":{self.tag}"
        return f"{self.registry}/{self.repository}{suffix}"

    def __str__(self) -> str:
        return f"oci://{self.name}"


# -- the artifact -----------------------------------------------------------------------

@dataclass(frozen=True)
class TreeFile:
    path: str
    data: bytes
    executable: bool = False


def _json(value: Any) -> bytes:
    """Compact JSON as Go's encoding/json writes it (HTML characters escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text.encode("utf-8")


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


class _Header(tarfile.TarInfo):
    """A USTAR header as Go's archive/tar writes one: no slash after a folder's name."""

    def get_info(self) -> dict[str, Any]:  # type: ignore[override]
        info = super().get_info()
        info["name"] = self.name
        return info


def _walk(files: Iterable[TreeFile]) -> list[tuple[str, TreeFile | None]]:
    """``(name, file or None for a folder)`` in the order Go's filepath.WalkDir visits a
    folder holding ``files``: ``.`` first, then each folder's entries by name, a folder's
    own entries right after it."""
    tree: dict[str, Any] = {}
    for item in files:
        parts = PurePosixPath(item.path).parts
        node = tree
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(item.path, None, "is both a file and a folder")
            node = child
        if parts[-1] in node:
            raise ConfigError(item.path, None, "appears twice")
        node[parts[-1]] = item
    out: list[tuple[str, TreeFile | None]] = [(".", None)]

    def visit(node: dict[str, Any], prefix: str) -> None:
        for name in sorted(node, key=lambda n: n.encode()):
            path = f"{prefix}{name}"
            child = node[name]
            if isinstance(child, dict):
                out.append((path, None))
                visit(child, f"{path}/")
            else:
                out.append((path, child))

    visit(tree, "")
    return out


def pack(files: Iterable[TreeFile]) -> bytes:
    """The tarball of ``files`` as fluxcd/pkg ``tar.Tar`` writes it for such a folder."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, item in _walk(files):
            raw = name.encode("utf-8")
            if not raw.isascii() or len(raw) > 100:
                raise ConfigError(name, None, "cannot be packed as Flux does: a path of at "
                                              "most 100 ASCII characters is needed")
            header = _Header(name)
            header.uid = header.gid = 0
            header.uname = header.gname = ""
            header.mtime = 0
            if item is None:
                header.type = tarfile.DIRTYPE
                header.mode = 0o755
                tar.addfile(header)
            else:
                header.type = tarfile.REGTYPE
                header.mode = 0o755 if item.executable else 0o644
                header.size = len(item.data)
                tar.addfile(header, io.BytesIO(item.data))
        end = tar.offset + 2 * tarfile.BLOCKSIZE
    # Go ends the archive with two zero blocks; Python pads it to a 10 KiB record.
    return buffer.getvalue()[:end]


def compress(tar: bytes) -> bytes:
    """gzip with no file name and mtime 0 (level 6, Go's default)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=6,
                       mtime=0) as stream:
        stream.write(tar)
    return buffer.getvalue()


@dataclass(frozen=True)
class Artifact:
    """A built artifact: the layer (and the tarball inside), the config, the manifest."""

    tar: bytes
    layer: bytes
    config: bytes
    manifest: bytes
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return _sha256(self.manifest)

    @property
    def layer_digest(self) -> str:
        return _sha256(self.layer)

    @property
    def config_digest(self) -> str:
        return _sha256(self.config)


def rfc3339(moment: dt.datetime) -> str:
    """UTC, whole seconds, ``Z``: ``2025-01-02T03:04:05Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_artifact(files: Iterable[TreeFile], *, source: str, revision: str,
                   created: str) -> Artifact:
    """The artifact of ``files`` with Flux's annotations (``created`` in RFC 3339)."""
    tar = pack(files)
    layer = compress(tar)
    # go-containerregistry's config for empty.Image with Created set and one layer added.
    config = _json({
        "architecture": "",
        "created": created,
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [_sha256(tar)]},
        "config": {},
    })
    annotations = {CREATED_ANNOTATION: created, REVISION_ANNOTATION: revision,
                   SOURCE_ANNOTATION: source}
    manifest = _json({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "size": len(config),
                   "digest": _sha256(config)},
        "layers": [{"mediaType": CONTENT_MEDIA_TYPE, "size": len(layer),
                    "digest": _sha256(layer)}],
        "annotations": dict(sorted(annotations.items())),
    })
    return Artifact(tar, layer, config, manifest, annotations)


def unpack(layer: bytes, *, limit: int = MAX_UNPACKED_BYTES, where: str = "layer"
           ) -> dict[str, bytes]:
    """The regular files of a gzipped tarball (``{path: bytes}``). Folders are implied;
    links, devices, absolute paths and ``..`` are refused; at most ``limit`` bytes."""
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(layer), mode="r:gz") as tar:
            for member in tar:
                name = member.name
                parts = PurePosixPath(name).parts
                if name.startswith("/") or ".." in parts:
                    raise ConfigError(where, name, "leaves the artifact's folder")
                if member.isdir():
                    continue
                if not member.isreg():
                    raise ConfigError(where, name, "is not a regular file or folder "
                                                   "(links and devices are refused)")
                total += member.size
                if total > limit:
                    raise ConfigError(where, None, f"unpacks to more than {limit} bytes")
                stream = tar.extractfile(member)
                data = stream.read() if stream is not None else b""
                clean = PurePosixPath(*[p for p in parts if p != "."]).as_posix()
                if clean in files:
                    raise ConfigError(where, name, "appears twice")
                files[clean] = data
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ConfigError(where, None, f"is not a gzipped tarball: {exc}") from None
    return dict(sorted(files.items()))


# -- the tree at a commit ---------------------------------------------------------------

def _git(root: Path, *args: str) -> bytes:
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)
    except FileNotFoundError:
        raise ConfigError("git", None, "git is not installed") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ConfigError(f"git {args[0]}", None,
                          lines[-1] if lines else f"exit code {proc.returncode}")
    return proc.stdout


def artifact_roots(cluster: str) -> tuple[str, ...]:
    """The folders of the artifact of ``cluster``."""
    return (f"clusters/{cluster}", "infrastructure", "apps")


def in_artifact(path: str, cluster: str) -> bool:
    """Whether the repository file ``path`` belongs in ``cluster``'s artifact."""
    parts = PurePosixPath(path).parts
    if not parts:
        return False
    if parts[0] in ("infrastructure", "apps"):
        return len(parts) > 1
    return (len(parts) > 2 and parts[0] == "clusters" and parts[1] == cluster
            and parts[2] != "flux-system")


def commit_files(root: Path, commit: str, cluster: str) -> list[TreeFile]:
    """The files of ``cluster``'s artifact at ``commit`` (symbolic links and submodules
    left out, as Flux leaves them out)."""
    listing = _git(root, "ls-tree", "-r", "-z", "--full-tree", commit, "--",
                   *artifact_roots(cluster))
    wanted: list[tuple[str, str, bool]] = []
    for entry in filter(None, listing.split(b"\0")):
        meta, _, raw = entry.partition(b"\t")
        mode, kind, oid = meta.decode().split()
        path = raw.decode("utf-8", "surrogateescape")
        if kind == "blob" and mode in ("100644", "100755") and in_artifact(path, cluster):
            wanted.append((path, oid, mode == "100755"))
    if not any(p.startswith(f"clusters/{cluster}/") for p, _, _ in wanted):
        raise ConfigError(f"{commit[:12]}:clusters/{cluster}", None,
                          "not in the commit (synthesize and commit the tree first)")
    proc = subprocess.run(["git", "cat-file", "--batch"], cwd=root, check=False,
                          input="".join(f"{oid}\n" for _, oid, _ in wanted).encode(),
                          capture_output=True)
    if proc.returncode != 0:
        raise ConfigError("git cat-file", None, proc.stderr.decode("utf-8", "replace").strip())
    out, pos, files = proc.stdout, 0, []
    for path, oid, executable in wanted:
        newline = out.index(b"\n", pos)
        header = out[pos:newline].decode().split()
        if len(header) != 3 or header[0] != oid:
            raise ConfigError(f"{commit[:12]}:{path}", None, "unexpected git cat-file answer")
        size = int(header[2])
        files.append(TreeFile(path, out[newline + 1:newline + 1 + size], executable))
        pos = newline + 1 + size + 1
    return files


def _public_url(url: str) -> str:
    """``url`` without credentials (``https://token@host/x`` -> ``https://host/x``)."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return url  # scp-like git@host:path names a user, not a secret


@dataclass(frozen=True)
class Commit:
    sha: str
    branch: str | None
    created: str
    source: str

    @property
    def revision(self) -> str:
        """Flux's revision: ``<branch>@sha1:<commit>`` (``sha1:<commit>`` detached)."""
        return f"{self.branch}@sha1:{self.sha}" if self.branch else f"sha1:{self.sha}"


def describe_commit(root: Path, ref: str = "HEAD", *, branch: str | None = None,
                    source: str | None = None) -> Commit:
    """The commit ``ref`` names, its branch (the checked-out one when ``ref`` is HEAD),
    its committer time and the repository's URL (``origin``'s, without credentials)."""
    if not ref or ref.startswith("-"):
        raise ConfigError("--ref", None, f"{ref!r} is not a git revision")
    try:
        sha = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options",
                   f"{ref}^{{commit}}").decode().strip()
    except ConfigError:
        raise ConfigError(ref, None, "unknown git revision (no such branch, tag or "
                                     "commit)") from None
    if branch is None:
        if ref == "HEAD":
            head = subprocess.run(["git", "symbolic-ref", "--quiet", "--short", "HEAD"],
                                  cwd=root, capture_output=True, text=True, check=False)
            branch = head.stdout.strip() or None
        else:
            probe = subprocess.run(["git", "show-ref", "--verify", "--quiet",
                                    f"refs/heads/{ref}"], cwd=root, check=False)
            branch = ref if probe.returncode == 0 else None
    seconds = int(_git(root, "show", "-s", "--format=%ct", sha).decode().strip())
    created = rfc3339(dt.datetime.fromtimestamp(seconds, dt.UTC))
    if source is None:
        remote = subprocess.run(["git", "config", "--get", "remote.origin.url"], cwd=root,
                                capture_output=True, text=True, check=False).stdout.strip()
        if not remote:
            raise ConfigError("--source", None, "the repository has no origin remote: pass "
                                                "--source URL (the repository's address)")
        source = remote
    return Commit(sha, branch, created, _public_url(source))


# -- the registry ----------------------------------------------------------------------

def docker_config_file() -> Path:
    """Where ``docker login`` keeps credentials: ``$DOCKER_CONFIG/config.json``, else
    ``~/.docker/config.json``."""
    folder = os.environ.get("DOCKER_CONFIG")
    return (Path(folder) if folder else Path.home() / ".docker") / "config.json"


class Registry:
    """One repository of an OCI registry, through ``oras`` (HTTPS, or HTTP with
    ``insecure``), with the credentials the Docker config holds for the registry."""

    def __init__(self, reference: Reference, *, insecure: bool = False,
                 docker_config: Path | None = None, timeout: int = TIMEOUT) -> None:
        self.reference = reference
        self.insecure = insecure
        self.timeout = timeout
        self.docker_config = docker_config or docker_config_file()
        self.where = str(reference)
        self._client = self._connect()

    def _connect(self) -> Any:
        import oras.container
        import oras.provider
        import requests

        scheme = "http" if self.insecure else "https"
        probe = requests.Session()
        try:
            answer = probe.get(f"{scheme}://{self.reference.registry}/v2/",
                               timeout=self.timeout)
        except requests.exceptions.SSLError as exc:
            raise ConfigError(self.where, None, f"TLS failed ({_first_line(exc)}); a registry "
                                                "served over plain HTTP needs --insecure") from None
        except requests.RequestException as exc:
            raise ConfigError(self.where, None, f"the registry does not answer at "
                                                f"{scheme}://{self.reference.registry}/v2/: "
                                                f"{_first_line(exc)}") from None
        finally:
            probe.close()
        challenge = answer.headers.get("Www-Authenticate", "")
        backend = "basic" if challenge.lower().startswith("basic") else "token"
        client = oras.provider.Registry(hostname=self.reference.registry,
                                        insecure=self.insecure, auth_backend=backend)
        self.container = oras.container.Container(self.reference.name,
                                                  registry=self.reference.registry)
        configs = [str(self.docker_config)] if self.docker_config.is_file() else []
        client.auth.load_configs(self.container, configs=configs)
        if answer.status_code == 401 and not getattr(client.auth, "_basic_auth", None):
            raise ConfigError(self.where, None,
                              f"the registry asks for credentials and {self.docker_config} "
                              f"has none for {self.reference.registry} (docker login "
                              f"{self.reference.registry})")
        if answer.status_code == 401:
            self._client = client
            retried = self._request("GET", f"{scheme}://{self.reference.registry}/v2/")
            if retried.status_code in (401, 403):
                raise ConfigError(self.where, None,
                                  f"access denied: the registry refuses the credentials "
                                  f"{self.docker_config} holds for {self.reference.registry}")
        elif answer.status_code != 200:
            raise ConfigError(self.where, None, f"{scheme}://{self.reference.registry}/v2/ "
                                                f"answered {answer.status_code}: not an OCI "
                                                "registry?")
        return client

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        import requests

        try:
            return self._client.do_request(url, method, **kwargs)
        except (requests.RequestException, ValueError) as exc:
            raise ConfigError(self.where, None, f"{method} {url}: {_first_line(exc)}") from None

    def _check(self, response: Any, what: str, ok: tuple[int, ...] = (200, 201, 202)) -> None:
        if response.status_code in (401, 403):
            raise ConfigError(self.where, None, f"{what}: access denied "
                                                f"({response.status_code}); check the "
                                                f"credentials in {self.docker_config}")
        if response.status_code not in ok:
            detail = _registry_error(response)
            raise ConfigError(self.where, None, f"{what}: the registry answered "
                                                f"{response.status_code}{detail}")

    def push(self, artifact: Artifact) -> str:
        """Upload the blobs (skipping those the registry has) and the manifest; return
        the manifest's digest as the registry reports it."""
        with tempfile.TemporaryDirectory(prefix="homelab-charts-oci-") as folder:
            for name, media_type, data in (("config.json", CONFIG_MEDIA_TYPE, artifact.config),
                                           ("layer.tar.gz", CONTENT_MEDIA_TYPE, artifact.layer)):
                path = Path(folder) / name
                path.write_bytes(data)
                descriptor = {"mediaType": media_type, "size": len(data),
                              "digest": _sha256(data)}
                try:
                    response = self._client.upload_blob(str(path), self.container, descriptor)
                except Exception as exc:  # oras raises bare ValueErrors and requests errors
                    raise ConfigError(self.where, None,
                                      f"uploading {name}: {_first_line(exc)}") from None
                self._check(response, f"uploading {name}")
        scheme = self._client.prefix
        response = self._request("PUT", f"{scheme}://{self.container.manifest_url()}",
                                 data=artifact.manifest,
                                 headers={"Content-Type": MANIFEST_MEDIA_TYPE})
        self._check(response, "uploading the manifest", ok=(200, 201))
        reported = response.headers.get("Docker-Content-Digest")
        if reported and reported != artifact.digest:
            raise ConfigError(self.where, None, f"the registry stored the manifest as "
                                                f"{reported}, not {artifact.digest}")
        return artifact.digest

    def _get(self, url: str, what: str, accept: str | None, limit: int) -> tuple[bytes, Any]:
        headers = {"Accept": accept} if accept else {}
        response = self._request("GET", url, headers=headers, stream=True)
        try:
            if response.status_code == 404:
                raise ConfigError(self.where, None, f"{what} not found")
            self._check(response, f"reading {what}", ok=(200,))
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise ConfigError(self.where, None, f"{what} is larger than {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks), response.headers
        finally:
            response.close()

    def pull(self) -> PulledArtifact:
        """The manifest, config and layer, each checked against its digest."""
        scheme = self._client.prefix
        manifest, headers = self._get(f"{scheme}://{self.container.manifest_url()}",
                                      "the manifest", MANIFEST_MEDIA_TYPE, MAX_DOCUMENT_BYTES)
        digest = _sha256(manifest)
        expected = self.reference.digest or headers.get("Docker-Content-Digest")
        if expected and expected != digest:
            raise ConfigError(self.where, None, f"the manifest's digest is {digest}, not "
                                                f"{expected}")
        try:
            document = json.loads(manifest)
        except ValueError:
            raise ConfigError(self.where, "manifest", "is not JSON") from None
        config_desc, layer_desc = check_manifest(document, self.where)
        blobs = []
        for desc, what, limit in ((config_desc, "the config", MAX_DOCUMENT_BYTES),
                                  (layer_desc, "the layer", MAX_UNPACKED_BYTES)):
            data, _ = self._get(f"{scheme}://{self.container.get_blob_url(desc['digest'])}",
                                what, None, limit)
            if _sha256(data) != desc["digest"] or len(data) != desc["size"]:
                raise ConfigError(self.where, None, f"{what} does not match its digest "
                                                    f"{desc['digest']}")
            blobs.append(data)
        return PulledArtifact(str(self.reference), digest, manifest, document, blobs[0],
                              blobs[1])


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def _registry_error(response: Any) -> str:
    try:
        errors = response.json().get("errors") or []
        messages = [f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict)]
        return f" ({'; '.join(messages)})" if messages else ""
    except Exception:  # not JSON: the status says enough
        return ""


def check_manifest(document: Any, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config and layer descriptors of a Flux artifact's manifest, or a ConfigError
    naming the field that is not Flux's."""
    if not isinstance(document, dict):
        raise ConfigError(where, "manifest", "is not a JSON object")
    if document.get("mediaType") != MANIFEST_MEDIA_TYPE:
        raise ConfigError(where, "manifest.mediaType",
                          f"{document.get('mediaType')!r} is not {MANIFEST_MEDIA_TYPE}")
    config, layers = document.get("config"), document.get("layers")
    if not isinstance(config, dict) or config.get("mediaType") != CONFIG_MEDIA_TYPE:
        raise ConfigError(where, "manifest.config.mediaType",
                          f"not {CONFIG_MEDIA_TYPE}: not a Flux artifact")
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict) \
            or layers[0].get("mediaType") != CONTENT_MEDIA_TYPE:
        raise ConfigError(where, "manifest.layers",
                          f"expected one layer of {CONTENT_MEDIA_TYPE}")
    for name, desc in (("config", config), ("layers[0]", layers[0])):
        if not _DIGEST.match(str(desc.get("digest"))) or not isinstance(desc.get("size"), int):
            raise ConfigError(where, f"manifest.{name}", "needs a sha256 digest and a size")
    return config, layers[0]


@dataclass(frozen=True)
class PulledArtifact:
    url: str
    digest: str
    manifest: bytes
    document: Mapping[str, Any]
    config: bytes
    layer: bytes

    @property
    def annotations(self) -> dict[str, str]:
        raw = self.document.get("annotations")
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    def files(self) -> dict[str, bytes]:
        return unpack(self.layer, where=f"{self.url}: layer")


# -- the commands -----------------------------------------------------------------------

@dataclass(frozen=True)
class PushResult:
    url: str
    digest: str
    commit: Commit
    files: int
    layer_digest: str

    @property
    def pinned(self) -> str:
        """``oci://REGISTRY/REPOSITORY@sha256:...``: what was pushed, by digest."""
        ref = Reference.parse(self.url)
        return str(Reference(ref.registry, ref.repository, None, self.digest))


def cluster_name(root: Path, data_file: Path | None = None) -> str:
    from homelab_charts import config, project

    return config.load(data_file if data_file is not None else project.data_file(root)).cluster.name


def build_commit_artifact(root: Path, *, ref: str = "HEAD", cluster: str,
                          branch: str | None = None, source: str | None = None
                          ) -> tuple[Artifact, Commit, int]:
    """The artifact of ``cluster``'s tree at ``ref`` (nothing is sent anywhere)."""
    commit = describe_commit(root, ref, branch=branch, source=source)
    files = commit_files(root, commit.sha, cluster)
    artifact = build_artifact(files, source=commit.source, revision=commit.revision,
                              created=commit.created)
    return artifact, commit, len(files)


def push_tree(root: Path, url: str, *, ref: str = "HEAD", cluster: str,
              branch: str | None = None, source: str | None = None, insecure: bool = False,
              docker_config: Path | None = None) -> PushResult:
    """Package ``cluster``'s tree at ``ref`` and push it to ``url`` (oci://...:TAG)."""
    reference = Reference.parse(url, need_tag=True)
    artifact, commit, count = build_commit_artifact(root, ref=ref, cluster=cluster,
                                                    branch=branch, source=source)
    registry = Registry(reference, insecure=insecure, docker_config=docker_config)
    digest = registry.push(artifact)
    return PushResult(str(reference), digest, commit, count, artifact.layer_digest)


def pull_artifact(url: str, *, insecure: bool = False,
                  docker_config: Path | None = None) -> PulledArtifact:
    reference = Reference.parse(url)
    return Registry(reference, insecure=insecure, docker_config=docker_config).pull()


def cluster_of(files: Mapping[str, bytes], where: str) -> str:
    """The one cluster whose folder an artifact holds."""
    clusters = sorted({PurePosixPath(p).parts[1] for p in files
                       if p.startswith("clusters/") and len(PurePosixPath(p).parts) > 2})
    if len(clusters) != 1:
        raise ConfigError(where, None, f"expected one clusters/<name>/ folder, found "
                                       f"{', '.join(clusters) or 'none'}")
    return clusters[0]


def write_files(files: Mapping[str, bytes], folder: Path) -> None:
    """Write pulled files under ``folder`` (which must be missing or empty)."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(str(folder), None, "exists and is not an empty folder")
    for rel, data in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


@dataclass(frozen=True)
class Comparison:
    """A pulled artifact compared with the working tree's files."""

    artifact: PulledArtifact
    cluster: str
    files: dict[str, bytes]
    diff: Any  # homelab_charts.review.diff.TreeDiff


def compare_with_working_tree(pulled: PulledArtifact, root: Path, *,
                              keep: Path | None = None) -> Comparison:
    """Unpack ``pulled`` into a folder (``keep``, else a temporary one), read it and the
    working tree as trees (``homelab_charts.tree``) and diff them object by object: the
    artifact (what the cluster runs) is the base, the working tree's files the head."""
    from homelab_charts.review.diff import diff_trees
    from homelab_charts.tree import read_disk_tree

    files = pulled.files()
    cluster = cluster_of(files, pulled.url)
    with tempfile.TemporaryDirectory(prefix="homelab-charts-pull-") as scratch:
        folder = keep if keep is not None else Path(scratch)
        write_files(files, folder)
        old = read_disk_tree(folder)
    new = {rel: text for rel, text in read_disk_tree(root).items() if in_artifact(rel, cluster)}
    revision = pulled.annotations.get(REVISION_ANNOTATION, pulled.digest[:19])
    result = diff_trees(old, new, base=f"{pulled.url} ({revision})",
                        head="working tree files", base_where=f"{pulled.url}:",
                        head_where="", progress=False)
    return Comparison(pulled, cluster, files, result)


def reconcile(url: str, *, timeout: int = TIMEOUT) -> int:
    """POST to a Flux Receiver's webhook (``https://HOST/hook/<digest>``): Flux
    reconciles the Receiver's resources now. Returns the HTTP status."""
    import requests

    if not url.startswith(("https://", "http://")):
        raise ConfigError("--reconcile", None, "expected the Receiver's webhook URL "
                                               "(https://HOST/hook/...)")
    try:
        response = requests.post(url, timeout=timeout)
    except requests.RequestException as exc:
        raise ConfigError("--reconcile", None, f"the Receiver does not answer: "
                                               f"{_first_line(exc)}") from None
    if response.status_code >= 300:
        raise ConfigError("--reconcile", None, f"the Receiver answered "
                                               f"{response.status_code}")
    return int(response.status_code)
