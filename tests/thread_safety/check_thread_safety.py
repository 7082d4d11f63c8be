#!/usr/bin/env python3
"""Compiles every daemon/ and metrics/ source with clang-14's -Wthread-safety, using the flags
CMake recorded in compile_commands.json, and fails on any thread-safety warning. The fields two
threads touch carry ABSL_GUARDED_BY; this proves at build time that every access holds the lock.

  check_thread_safety.py BUILD_DIR SOURCE_DIR
"""
import concurrent.futures
import json
import os
import shlex
import subprocess
import sys

CLANG = "clang++-14"
CHECKED = ("daemon", "metrics")
EXTRA = ["-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety",
         "-Wno-unknown-warning-option", "-Wno-unused-command-line-argument"]


def clang_command(entry):
    args = entry.get("arguments") or shlex.split(entry["command"])
    out = [CLANG]
    skip = False
    for arg in args[1:]:
        if skip:
            skip = False
            continue
        if arg in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if arg in ("-c", "-MD", "-MMD") or arg.startswith("-fdiagnostics-color"):
            continue
        out.append(arg)
    return out + EXTRA


def main():
    build, source = (os.path.abspath(p) for p in sys.argv[1:3])
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    wanted = [e for e in entries
              if os.path.relpath(e["file"], source).split(os.sep)[0] in CHECKED]
    if not wanted:
        print("no daemon/ or metrics/ sources in compile_commands.json", file=sys.stderr)
        return 1

    def check(entry):
        run = subprocess.run(clang_command(entry), cwd=entry["directory"], capture_output=True,
                             text=True)
        return entry["file"], run.returncode, run.stderr

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for path, code, err in pool.map(check, wanted):
            rel = os.path.relpath(path, source)
            if code != 0:
                failed += 1
                print(f"FAIL {rel}\n{err}")
            else:
                print(f"ok   {rel}")
    print(f"{len(wanted) - failed}/{len(wanted)} sources clean under -Wthread-safety")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
