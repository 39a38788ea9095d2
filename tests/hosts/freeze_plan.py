"""What puts a venv back to a recorded `pip freeze --all`: prints one line per step.

    python freeze_plan.py BUILT_FREEZE CURRENT_FREEZE
      uninstall NAME      a package the recorded freeze does not have
      install NAME==VER   a package that is missing or at another version
      cannot LINE         a recorded line that is not NAME==VER (a local path): left as it is

Standard library only (run by the host venv's python, any version the hosts use).
"""

import re
import sys


def read(path):
    """{normalised name: freeze line}"""
    found = {}
    with open(path, encoding="utf8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#"):
                name = re.split(r"[=@ ]", line, maxsplit=1)[0].lower().replace("_", "-")
                found[name] = line
    return found


def main(built_path, current_path):
    built, current = read(built_path), read(current_path)
    for name in sorted(set(current) - set(built)):
        print("uninstall", name)
    for name, line in sorted(built.items()):
        if current.get(name) != line:
            print("install" if "==" in line else "cannot", line)


if __name__ == "__main__":
    main(*sys.argv[1:3])
