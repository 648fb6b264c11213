"""Run the benchmarks: `python benchmarks/run.py [synth|validate] [ARGS]` (default: both)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHES = {"synth": "synth_bench.py", "validate": "validate_bench.py"}


def main() -> int:
    args = sys.argv[1:]
    names = [args.pop(0)] if args and args[0] in BENCHES else list(BENCHES)
    for name in names:
        script = HERE / BENCHES[name]
        if not script.exists():
            print(f"{name}: {script.name} not found", file=sys.stderr)
            continue
        print(f"== {name} ==", flush=True)
        sys.argv = [str(script), *args]
        sys.path.insert(0, str(HERE))
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (0, None):
                return int(exc.code) if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
