"""Fail while the workshop's repository address is still a placeholder (run before publishing the labs).

    python3 tools/publish_check.py        (make publish-check)

The address is one variable, `repo_url` in labs/variables/variables.json, that every lab's `git clone`
and the manifests' help link (`support`, which must be `<repo_url>/issues`) use. A fork or a release
sets it to the address where the repository is published. This check fails while it holds a placeholder
(YOUR-ORGANISATION, example.org...), while a manifest's `support` does not follow it, or while README.md's
clone command names another address. It needs only Python 3 (no .venv).
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"YOUR-|<[^>]*>|example\.(org|com|net)|\bchangeme\b|\bTODO\b", re.I)


def problems(root=ROOT):
    found = []
    variables = json.loads((root / "labs" / "variables" / "variables.json").read_text(encoding="utf-8"))
    url = variables.get("repo_url", "")
    if not url:
        return ["labs/variables/variables.json defines no repo_url"]
    if PLACEHOLDER.search(url):
        found.append("repo_url in labs/variables/variables.json is still the placeholder %r: set it to the "
                     "address where this repository is published (then every lab's git clone works)" % url)
    for manifest in sorted((root / "labs" / "workshops").glob("*/manifest*.json")):
        support = json.loads(manifest.read_text(encoding="utf-8")).get("support")
        if support != url + "/issues":
            found.append("%s: support is %r, not repo_url + '/issues' (%s/issues)"
                         % (manifest.relative_to(root), support, url))
    readme = (root / "README.md").read_text(encoding="utf-8")
    for clone in re.findall(r"git clone (\S+)", readme):
        if clone != url:
            found.append("README.md: `git clone %s` is not repo_url (%s)" % (clone, url))
    # An address written out instead of [](var:repo_url) (Colab links, badges...) must not keep the placeholder.
    for path in [root / "README.md", *sorted((root / "labs").glob("*/*.md"))]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"/YOUR-ORGANISATION\b", line):
                found.append("%s:%d still names YOUR-ORGANISATION: write the published address there"
                             % (path.relative_to(root), number))
    return found


def main():
    found = problems()
    for problem in found:
        print("publish-check: error: " + problem, file=sys.stderr)
    if not found:
        print("publish-check: the labs clone %s, and its issue tracker is their help link."
              % json.loads((ROOT / "labs/variables/variables.json").read_text())["repo_url"])
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
