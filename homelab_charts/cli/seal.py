"""``homelab-charts seal`` (and ``reseal``, ``unseal``): write the sealed data store.

``seal`` encrypts values for the controller's certificate into
``sealed/<namespace>/<name>.yaml`` of the repository, keeping the ciphertext of every key
it was not given byte for byte. ``reseal`` re-encrypts stored secrets for a new
certificate with the old controller key; ``unseal`` recovers values with a backed-up
controller key. No value is ever printed but by ``unseal``, and only where asked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from homelab_charts.errors import ConfigError
from homelab_charts.fsutil import write_new_private

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from homelab_charts.secrets.crypto import SealingCertificate
    from homelab_charts.secrets.store import SealedDocument


def register(subparsers: argparse._SubParsersAction) -> None:
    from homelab_charts.secrets.crypto import SealScope
    scopes = [s.value for s in SealScope]
    seal = subparsers.add_parser(
        "seal", help="seal Secret values into the sealed data store (kubeseal-compatible)",
        description="Encrypt KEY=VALUE pairs for the sealed-secrets controller's certificate "
                    "and write or update the SealedSecret file of the store. Keys not given "
                    "keep their ciphertext byte for byte. Values given as arguments show in "
                    "shell history and process lists: prefer --from-env-file.",
    )
    seal.add_argument("assignments", nargs="*", metavar="KEY=VALUE",
                      help="a value to seal under KEY")
    seal.add_argument("--from-env-file", metavar="FILE", type=Path,
                      help="read KEY=VALUE lines from FILE ('-': standard input)")
    seal.add_argument("--name", required=True, help="name of the Secret")
    seal.add_argument("--namespace", "-n", help="namespace of the Secret "
                      "(required unless --scope cluster-wide)")
    seal.add_argument("--scope", choices=scopes, default=None,
                      help="where the values may be decrypted (default: the existing file's "
                           "scope, else strict); changing it re-seals, so give every key")
    seal.add_argument("--type", dest="secret_type", default=None,
                      help="type of the Secret (default: the existing file's, else Opaque)")
    _cert_arguments(seal)
    seal.add_argument("--replace", action="store_true",
                      help="the keys given become the whole Secret: drop every other key")
    _store_arguments(seal, output=True)
    seal.set_defaults(func=run_seal)

    reseal = subparsers.add_parser(
        "reseal", help="re-encrypt stored SealedSecrets for a new certificate",
        description="Decrypt stored SealedSecrets with the old controller private key (a PEM "
                    "file or the YAML backup of the controller's key Secrets) and seal "
                    "them again for --cert. Values stay in memory. Nothing is written "
                    "unless every secret decrypts.",
    )
    reseal.add_argument("--private-key", required=True, type=Path, metavar="FILE",
                        help="old controller key(s): PEM, or the key Secrets' YAML")
    _cert_arguments(reseal)
    which = reseal.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every SealedSecret of the store")
    which.add_argument("--name", help="one SealedSecret (with --namespace)")
    reseal.add_argument("--namespace", "-n")
    _store_arguments(reseal, output=False)
    reseal.set_defaults(func=run_reseal)

    unseal = subparsers.add_parser(
        "unseal", help="decrypt a stored SealedSecret with a controller private key",
        description="Recovery: decrypt a SealedSecret of the store with a backed-up "
                    "controller key and write its values as an env file (mode 0600) that "
                    "`seal --from-env-file` reads back.",
    )
    unseal.add_argument("--private-key", required=True, type=Path, metavar="FILE",
                        help="controller key(s): PEM, or the key Secrets' YAML")
    unseal.add_argument("--name", required=True)
    unseal.add_argument("--namespace", "-n")
    unseal.add_argument("--output", "-o", required=True, metavar="FILE",
                        help="env file to write ('-': standard output)")
    unseal.add_argument("--store", type=Path, default=None, help=argparse.SUPPRESS)
    unseal.set_defaults(func=run_unseal)


def _cert_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cert", default=None, metavar="FILE",
                        help="the controller's public certificate, as `kubeseal --fetch-cert` "
                             "prints it ('-': standard input; default: the repository's "
                             "sealed/sealed-secrets-cert.pem)")
    parser.add_argument("--fetch-cert", action="store_true",
                        help="fetch the controller's certificate with kubectl (service "
                             "kube-system/sealed-secrets-controller), save it as the "
                             "repository's sealed/sealed-secrets-cert.pem, and seal for it")
    parser.add_argument("--allow-expired", action="store_true",
                        help="seal even if the certificate is expired or not yet valid")


def _store_arguments(parser: argparse.ArgumentParser, *, output: bool) -> None:
    parser.add_argument("--store", type=Path, default=None, metavar="DIR",
                        help="the sealed data store (default: the repository's sealed/)")
    if output:
        parser.add_argument("--output", "-o", type=Path, metavar="FILE",
                            help="write this file instead of <store>/<namespace>/<name>.yaml")


def _warn(command: str, message: str) -> None:
    print(f"homelab-charts {command}: warning: {message}", file=sys.stderr)


def _read_input(path: str, what: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read the {what}: {exc.strerror}") from None


def load_certificate(args: argparse.Namespace) -> SealingCertificate:
    from homelab_charts.secrets.crypto import SealingCertificate

    source = "<stdin>" if args.cert == "-" else args.cert
    cert = SealingCertificate.from_pem(_read_input(args.cert, "certificate"), source)
    problem = cert.validity_problem()
    if problem is not None:
        _warn(args.command, f"{source}: {problem}")
        if not args.allow_expired:
            raise ConfigError(source, None,
                              f"{problem}; fetch the current one with `kubeseal --fetch-cert`, "
                              "or pass --allow-expired to seal with it anyway")
    return cert


def _load_private_keys(path: Path) -> list[rsa.RSAPrivateKey]:
    from homelab_charts.secrets.store import load_key_backup

    return load_key_backup(_read_input(str(path), "private key"), str(path))


def _check_names(name: str | None, namespace: str | None) -> None:
    from homelab_charts.secrets.store import DNS_LABEL, DNS_SUBDOMAIN

    if name is not None and not DNS_SUBDOMAIN.match(name):
        raise ConfigError("--name", None, f"{name!r} is not a valid DNS-1123 subdomain")
    if namespace is not None and not DNS_LABEL.match(namespace):
        raise ConfigError("--namespace", None, f"{namespace!r} is not a valid DNS-1123 label")


def _require_namespace(namespace: str | None, *, cluster_wide: bool) -> None:
    if namespace is None and not cluster_wide:
        raise ConfigError("--namespace", None,
                          "required: a strict or namespace-wide SealedSecret is bound to its "
                          "namespace (only --scope cluster-wide may go without)")


def _locations(args: argparse.Namespace) -> None:
    """Fill in the repository's store and certificate where the options left them out."""
    from homelab_charts import project

    if getattr(args, "store", "") is None:
        args.store = project.store_dir()
    if getattr(args, "fetch_cert", False):
        from homelab_charts.secrets.fetch import fetch_and_save

        if args.cert is not None:
            raise ConfigError("--fetch-cert", None, "give --cert or --fetch-cert, not both")
        target = project.cert_file()
        if fetch_and_save(target):
            print(f"homelab-charts seal: saved the controller's certificate to {target}",
                  file=sys.stderr)
        args.cert = str(target)
    if getattr(args, "cert", "") is None:
        args.cert = str(project.cert_file())


def _check_store(store: Path) -> None:
    """A ``--store`` folder must exist (a typo must not start a new store somewhere);
    only the repository's own store is created when missing."""
    from homelab_charts import project

    if store.resolve() == project.store_dir().resolve() or store.is_dir():
        return
    what = "is not a folder" if store.exists() else "does not exist"
    raise ConfigError("--store", None,
                      f"{store} {what}: give the folder of an existing sealed data store "
                      "(create it first for a new one)")


def _read_existing(path: Path) -> SealedDocument | None:
    from homelab_charts.secrets.store import SealedDocument

    return SealedDocument.read(path) if path.exists() else None


def run_seal(args: argparse.Namespace) -> int:
    from homelab_charts.secrets.crypto import SealScope
    from homelab_charts.secrets.sealing import check_identity, seal_values
    from homelab_charts.secrets.store import store_path
    from homelab_charts.secrets.values import parse_assignments, parse_env_bytes
    _locations(args)

    if args.cert == "-" and args.from_env_file is not None and str(args.from_env_file) == "-":
        raise ConfigError("--cert", None, "the certificate and the env file cannot both "
                          "come from standard input")
    values = parse_assignments(args.assignments)
    if args.from_env_file is not None:
        env_source = "<stdin>" if str(args.from_env_file) == "-" else str(args.from_env_file)
        from_file = parse_env_bytes(_read_input(str(args.from_env_file), "env file"), env_source)
        for key in from_file:
            if key in values:
                raise ConfigError(env_source, None,
                                  f"key {key!r} is also given on the command line")
        values.update(from_file)
    if not values:
        raise ConfigError("command line", None,
                          "nothing to seal: give KEY=VALUE arguments or --from-env-file")

    _check_names(args.name, args.namespace)
    if args.output is None:
        _check_store(args.store)
    path = args.output or store_path(args.store, args.namespace, args.name)
    existing = _read_existing(path)
    check_identity(existing, args.name, args.namespace, where=str(path))
    scope = SealScope(args.scope) if args.scope else (
        existing.scope if existing is not None else SealScope.STRICT)
    _require_namespace(args.namespace, cluster_wide=scope is SealScope.CLUSTER_WIDE)
    cert = load_certificate(args)
    _warn_other_certificate(args, existing, cert.fingerprint)

    outcome = seal_values(existing, name=args.name, namespace=args.namespace, scope=scope,
                          values=values, cert=cert, secret_type=args.secret_type,
                          replace_all=args.replace, where=str(path))
    for warning in outcome.warnings:
        _warn(args.command, warning)
    outcome.document.write(path)
    summary = f"sealed {', '.join(sorted(values))} into {path}"
    if outcome.kept:
        summary += f" (unchanged: {', '.join(outcome.kept)})"
    if outcome.dropped:
        summary += f" (removed: {', '.join(outcome.dropped)})"
    print(summary, file=sys.stderr)
    return 0


def _warn_other_certificate(args: argparse.Namespace, existing: SealedDocument | None,
                            fingerprint: str) -> None:
    """One line on stderr when the store's values were sealed for another key."""
    from homelab_charts.secrets.sealing import other_sealing_keys

    others = other_sealing_keys(args.store, existing, fingerprint)
    if not others:
        return
    count = sum(len(v) for v in others.values())
    keys = ", ".join(k[:19] + "..." for k in sorted(others))
    cert = "<stdin>" if args.cert == "-" else args.cert
    _warn(args.command, f"{cert} is for key {fingerprint[:19]}..., but {count} stored "
                        f"secret(s) (e.g. {next(iter(others.values()))[0]}) were sealed for "
                        f"{keys}: if the controller's certificate changed, re-seal them "
                        "with `homelab-charts reseal --all`")


def run_reseal(args: argparse.Namespace) -> int:
    from homelab_charts.secrets.sealing import reseal_documents
    from homelab_charts.secrets.store import iter_store, store_path
    _locations(args)

    if args.all:
        targets = list(iter_store(args.store))
        if not targets:
            raise ConfigError(str(args.store), None, "no SealedSecret in the store")
    else:
        _check_names(args.name, args.namespace)
        path = store_path(args.store, args.namespace, args.name)
        existing = _read_existing(path)
        if existing is None:
            raise ConfigError(str(path), None, "no such sealed secret file")
        targets = [(path, existing)]
    keys = _load_private_keys(args.private_key)
    cert = load_certificate(args)
    # Decrypt and re-encrypt everything in memory first: nothing is written on error.
    for path, doc in reseal_documents(targets, keys, cert):
        doc.write(path)
        print(f"resealed {doc.ident} ({', '.join(doc.keys)}) into {path}", file=sys.stderr)
    return 0


def run_unseal(args: argparse.Namespace) -> int:
    from homelab_charts.secrets.sealing import check_outside_work_tree, env_file_text
    from homelab_charts.secrets.store import store_path
    _locations(args)

    _check_names(args.name, args.namespace)
    if args.output != "-":
        check_outside_work_tree(Path(args.output), args.store)
    path = store_path(args.store, args.namespace, args.name)
    doc = _read_existing(path)
    if doc is None:
        raise ConfigError(str(path), None, "no such sealed secret file")
    keys = _load_private_keys(args.private_key)
    values = doc.unseal(keys, where=str(path))
    text = env_file_text(values)
    if args.output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    out = Path(args.output)
    write_new_private(out, text.encode("utf-8"))
    print(f"wrote {len(values)} value(s) of {doc.ident} to {out} (mode 0600); "
          "delete it when done", file=sys.stderr)
    return 0
