"""The French edition of the lab guides: ``labs/<lab>/<lab>_fr.md`` and ``workshops/*/manifest_fr.json``.

What is checked, and why:

* every English lab has a French twin (and no twin lacks its English lab), with the LiveLabs skeleton
  in French, the same heading levels, and the same numbered tasks;
* a learner copies the same commands from either edition: the ``<copy>`` blocks are identical,
  in the same order; every inline `code` of the English is in the French; and both editions cite the
  same notebook sections, by their English titles;
* the same pictures and the same links: image targets identical, link targets identical except that a
  link to another lab points to that lab's French twin;
* every ``manifest.json`` has a ``manifest_fr.json`` beside it that lists the French twins in the same order;
* neither edition repeats the machine translation the workshop grew from (the seed,
  ``shared/seeds/000_*.txt``): "réseaux révolutionnaires" for convolutional networks, "dizaines" for
  tensors, "Accusés de réception", and the rest listed below;
* the French prose uses the terms of ``labs/glossaire.md`` (tenseur, lot, époque, exactitude...), not the
  English words, outside code and outside the English labels it quotes on purpose, and French number
  formats (50 000, not 50,000); the no-break spaces of French typography never reach code.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LABS = ROOT / "labs"
WORKSHOPS = LABS / "workshops"
GLOSSARY = LABS / "glossaire.md"
GLOSSARY_LINK = "?lab=glossaire"  # LiveLabs names a lab by its file name; the French manifests list it

EN_LABS = sorted(p for p in LABS.glob("*/*.md")  # labs/<name>/<name>.md, as tests/test_labs.py reads them
                 if p.parent.name != "workshops" and p.stem == p.parent.name)
FR_LABS = sorted(LABS.glob("*/*_fr.md"))
MANIFESTS = sorted(WORKSHOPS.glob("*/manifest.json"))


def twin(english: Path) -> Path:
    return english.with_name(f"{english.stem}_fr.md")


def lab_id(path: Path) -> str:
    return path.parent.name


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


FENCE = re.compile(r"^([ \t]*(?:> ?)?)```.*?^\1```[ \t]*$", re.S | re.M)
IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def without_code_blocks(text: str) -> str:
    return FENCE.sub("", text)


def copy_blocks(text: str) -> list[str]:
    return re.findall(r"<copy>(.*?)</copy>", text, re.S)


def headings(text: str) -> list[tuple[int, str]]:
    return [(len(m.group(1)), m.group(2).strip())
            for m in re.finditer(r"^(#{1,6}) (.*)$", without_code_blocks(text), re.M)]


def link_targets(text: str) -> list[str]:
    """Link targets outside code blocks; not LiveLabs variables, `[](var:repo_dir)`, which become text."""
    return [t for _, t in LINK.findall(without_code_blocks(text)) if not t.startswith("var:")]


def image_targets(text: str) -> list[str]:
    return [t for _, t in IMAGE.findall(text)]


def english_target(target: str) -> str:
    """A French link target as the English edition writes it.

    `../x/x_fr.md` -> `../x/x.md`, and the LiveLabs link `?lab=x_fr` -> `?lab=x` (LiveLabs names a lab
    by its file name without `.md`, and the French manifest lists the `_fr.md` files). A Microsoft Learn
    page may be linked in its French version (`/fr-fr/` for `/en-us/`).
    """
    target = re.sub(r"_fr\.md(?=$|#)", ".md", target)
    target = re.sub(r"^(https://learn\.microsoft\.com/)fr-fr/", r"\1en-us/", target)  # the same page, in French
    return re.sub(r"^\?lab=([\w-]+)_fr(?=$|#|&)", r"?lab=\1", target)


def livelabs_name(filename: str) -> str:
    """The name LiveLabs gives a tutorial, what `?lab=` selects: its file name without `.md`.

    As LiveLabs' `main.js` computes it (function `w()` of oracle-livelabs/common, redwood-hol/js/main.min.js).
    A `?lab=` name that no tutorial of the manifest has shows the manifest's first tutorial instead.
    """
    return filename.split("/")[-1].replace(".md", "")


def is_relative(target: str) -> bool:
    """Not an address, an anchor, or an address built from a LiveLabs variable, `[](var:repo_url)/...`."""
    return not re.match(r"[a-z]+:|\[\]\(var:", target) and not target.startswith("#")


# --------------------------------------------------------------------------------------------
# Twins and their skeleton
# --------------------------------------------------------------------------------------------

def test_every_english_lab_has_a_french_twin():
    assert len(EN_LABS) >= 12, EN_LABS
    missing = [str(twin(p).relative_to(ROOT)) for p in EN_LABS if not twin(p).is_file()]
    assert not missing, f"English labs without their French twin: {missing}"
    orphans = [str(p.relative_to(ROOT)) for p in FR_LABS
               if not p.with_name(p.name.replace("_fr.md", ".md")).is_file()]
    assert not orphans, f"French labs without an English lab beside them: {orphans}"
    assert GLOSSARY.is_file(), "labs/glossaire.md: the French glossary the labs follow"


TASK_EN = re.compile(r"^## Task (\d+): \S", re.M)
TASK_FR = re.compile(r"^## Tâche (\d+)[\u00a0\u202f ]: \S", re.M)

SKELETON = [  # (English pattern, French pattern, what), in the LiveLabs order
    (r"^## Introduction\s*$", r"^## Introduction\s*$", "## Introduction"),
    (r"^Estimated (Workshop )?Time: \d+",
     r"^Durée estimée( de l'atelier)?[\u00a0\u202f ]: \d+ (minutes|heures?)", "Durée estimée : N minutes"),
    (r"^### Objectives\s*$", r"^### Objectifs\s*$", "### Objectifs"),
    (r"^### Prerequisites\s*$", r"^### Prérequis\s*$", "### Prérequis"),
    (r"^## Task 1: ", r"^## Tâche 1[\u00a0\u202f ]: ", "## Tâche 1 : ..."),
    (r"^## Learn More\s*$", r"^## En savoir plus\s*$", "## En savoir plus"),
    (r"^## Acknowledgements\s*$", r"^## Remerciements\s*$", "## Remerciements"),
]


@pytest.mark.parametrize("english", EN_LABS, ids=lab_id)
def test_same_tasks_and_skeleton(english):
    french = twin(english)
    if not french.is_file():
        pytest.fail(f"{french.relative_to(ROOT)} is missing")
    en, fr = without_code_blocks(read(english)), without_code_blocks(read(french))
    en_tasks, fr_tasks = TASK_EN.findall(en), TASK_FR.findall(fr)
    assert fr_tasks == en_tasks, \
        f"{french.name}: tasks {fr_tasks} ('## Tâche N : ...'), the English has {en_tasks}"
    positions = []
    for en_pattern, fr_pattern, what in SKELETON:
        if not re.search(en_pattern, en, re.M):
            continue  # the English lab has no such section (the introduction has no task)
        m = re.search(fr_pattern, fr, re.M)
        assert m, f"{french.name}: missing '{what}' (the English twin has it)"
        positions.append(m.start())
    assert positions == sorted(positions), f"{french.name}: sections out of the LiveLabs order"
    for english_only in (r"^## Task \d", r"^Estimated (Workshop )?Time:", r"^### Objectives",
                         r"^### Prerequisites", r"^## Learn More", r"^## Acknowledgements"):
        assert not re.search(english_only, fr, re.M), f"{french.name}: an English heading is left: {english_only}"
    thanks = fr[positions[-1]:]
    for field in ("Auteur", "Contributeurs", "Dernière mise à jour"):
        assert re.search(rf"^\* \*\*{field}[^*]*\*\* - \S", thanks, re.M), \
            f"{french.name}: Remerciements lacks '* **{field}** - ...'"
    en_levels = [level for level, _ in headings(read(english))]
    fr_levels = [level for level, _ in headings(read(french))]
    assert fr_levels == en_levels, (
        f"{french.name}: heading levels {fr_levels} differ from the English {en_levels}:\n"
        + "\n".join(f"  EN {'#' * a} {ta}\n  FR {'#' * b} {tb}"
                    for (a, ta), (b, tb) in zip(headings(read(english)), headings(read(french))) if a != b))


@pytest.mark.parametrize("english", EN_LABS, ids=lab_id)
def test_same_copy_commands(english):
    french = twin(english)
    if not french.is_file():
        pytest.fail(f"{french.relative_to(ROOT)} is missing")
    en, fr = copy_blocks(read(english)), copy_blocks(read(french))
    assert fr == en, (
        f"{french.name}: the <copy> blocks differ from the English ones (same commands, same order).\n"
        f"only in English: {[c for c in en if c not in fr]}\nonly in French: {[c for c in fr if c not in en]}"
        + ("" if Counter(en) != Counter(fr) else "\n(same commands, different order)"))


@pytest.mark.parametrize("english", EN_LABS, ids=lab_id)
def test_same_links_and_images(english):
    french = twin(english)
    if not french.is_file():
        pytest.fail(f"{french.relative_to(ROOT)} is missing")
    en_text, fr_text = read(english), read(french)
    assert image_targets(fr_text) == image_targets(en_text), \
        f"{french.name}: image targets {image_targets(fr_text)} differ from the English {image_targets(en_text)}"
    for alt, _ in IMAGE.findall(fr_text):
        assert len(alt.split()) >= 3, f"{french.name}: image alt text too short: {alt!r}"
    fr_links = [t for t in link_targets(fr_text) if t != GLOSSARY_LINK]
    assert Counter(map(english_target, fr_links)) == Counter(link_targets(en_text)), (
        f"{french.name}: link targets differ from the English twin's.\n"
        f"only in English: {sorted(set(link_targets(en_text)) - set(map(english_target, fr_links)))}\n"
        f"only in French: {sorted(set(map(english_target, fr_links)) - set(link_targets(en_text)))}")
    for target in link_targets(fr_text) + image_targets(fr_text):
        m = re.match(r"\?lab=([\w-]+)", target)
        if target == GLOSSARY_LINK:
            continue  # the glossary is a tutorial of every French manifest: test_glossary_link_renders_in_livelabs
        if m:
            name = m.group(1)
            assert name.endswith("_fr") and (LABS / name[:-3] / f"{name}.md").is_file(), \
                f"{french.name}: the link {target} must name a French lab, ?lab=<lab>_fr"
            continue
        if not is_relative(target) or target.startswith("?"):
            continue
        path = (french.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{french.name}: the link {target} points to nothing"
        if path.suffix == ".md" and path.parent.parent == LABS and not path.stem.endswith("_fr"):
            assert not twin(path).is_file(), \
                f"{french.name}: the link {target} leads to an English lab; point it to {twin(path).name}"


def inline_code(text: str) -> Counter:
    """The inline `code spans` of a lab (outside fenced blocks), whitespace normalised."""
    return Counter(re.sub(r"\s+", " ", m) for m in re.findall(r"`([^`]+)`", without_code_blocks(text)))


@pytest.mark.parametrize("english", EN_LABS, ids=lab_id)
def test_inline_code_kept(english):
    """Every command, file name, option and message the English quotes inline, the French quotes too."""
    french = twin(english)
    if not french.is_file():
        pytest.fail(f"{french.relative_to(ROOT)} is missing")
    missing = inline_code(read(english)) - inline_code(read(french))
    assert not missing, f"{french.name}: inline code of the English twin missing here: {sorted(missing)}"


SECTION = re.compile(r"\*\*(\d+(?:\.\d+)?\.? [^*\n]+)\*\*")


@pytest.mark.parametrize("english", EN_LABS, ids=lab_id)
def test_same_notebook_sections_cited(english):
    """The notebooks stay in English: the French lab cites the same sections, by their English titles."""
    french = twin(english)
    if not french.is_file():
        pytest.fail(f"{french.relative_to(ROOT)} is missing")
    if "Run section" not in read(english):
        pytest.skip(f"{english.name} walks through no notebook")
    en = Counter(SECTION.findall(re.sub(r"\s+", " ", read(english))))
    fr = Counter(SECTION.findall(re.sub(r"[\s\u00a0\u202f]+", " ", read(french))))
    assert fr == en, (f"{french.name}: notebook sections cited differ from the English twin's.\n"
                      f"only in English: {sorted(en - fr)}\nonly in French: {sorted(fr - en)}")


# --------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------

def test_there_are_manifests():
    assert MANIFESTS, "no labs/workshops/*/manifest.json"


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.parent.name)
def test_french_manifest_lists_the_twins_in_order(manifest):
    french = manifest.with_name("manifest_fr.json")
    assert french.is_file(), f"{manifest.parent.relative_to(ROOT)}: no manifest_fr.json beside manifest.json"
    en, fr = json.loads(read(manifest)), json.loads(read(french))
    assert set(fr) == set(en), f"{french.name}: keys {sorted(fr)} differ from the English {sorted(en)}"
    for key in set(en) - {"workshoptitle", "tutorials"}:
        assert fr[key] == en[key], f"{french.relative_to(ROOT)}: {key} differs from manifest.json"
    assert fr["workshoptitle"].strip() and fr["workshoptitle"] != en["workshoptitle"], \
        f"{french.relative_to(ROOT)}: translate workshoptitle"
    twins = [t for t in fr["tutorials"] if livelabs_name(t["filename"]) != GLOSSARY_LINK[5:]]
    assert fr["tutorials"][len(twins):] == fr["tutorials"][len(en["tutorials"]):], \
        f"{french.relative_to(ROOT)}: the glossary comes last, after the twins of the English tutorials"
    assert len(twins) == len(en["tutorials"]), \
        f"{french.relative_to(ROOT)}: {len(twins)} tutorials (glossary aside), the English manifest has {len(en['tutorials'])}"
    for i, (e, f) in enumerate(zip(en["tutorials"], twins)):
        where = f"{french.relative_to(ROOT)} tutorials[{i}]"
        assert set(f) == set(e), f"{where}: keys {sorted(f)} differ from the English {sorted(e)}"
        for key in ("title", "description"):
            assert isinstance(f[key], str) and f[key].strip(), f"{where}.{key} must be a non-empty string"
        for key in set(e) - {"title", "description", "filename"}:
            assert f[key] == e[key], f"{where}.{key} differs from manifest.json"
        if re.match(r"[a-z]+://", e["filename"]):
            assert f["filename"] == e["filename"], f"{where}: a common lab keeps its address"
            continue
        expected = re.sub(r"\.md$", "_fr.md", e["filename"])
        assert f["filename"] == expected, f"{where}: filename {f['filename']!r}, expected {expected!r}"
        assert (french.parent / f["filename"]).resolve().is_file(), f"{where}: {f['filename']} does not exist"
        if e["title"] != "Introduction":
            assert f["title"] != e["title"], f"{where}: the title is still in English: {f['title']!r}"


# --------------------------------------------------------------------------------------------
# The seed's machine translation, never again
# --------------------------------------------------------------------------------------------

MISTRANSLATIONS = [
    (r"r[ée]volutionnaire", "'révolutionnaire' for convolutional: réseau de neurones convolutif"),
    (r"\bdizaines?\b(?! de (milli)?secondes| de minutes)", "'dizaines' for tensors: tenseurs"),
    (r"\btensors?\b(?= sont| de tailles| au GPU)", "'Tensors' left in French prose: tenseurs"),
    (r"Accusés? de réception", "'Accusés de réception' for Acknowledgements: Remerciements"),
    (r"principaux sous-jacents", "'principaux sous-jacents': les principes sous-jacents"),
    (r"adaptateur de données", "'adaptateur de données': chargeur de données (DataLoader)"),
    (r"[Ff]ormation (d'un|du|des|de) (classificat|classifieur|modèle|réseau)",
     "'formation' for training a model: entraînement"),
    (r"[Ff]ormation de classification", "'formation de classification': entraîner un classifieur"),
    (r"vision informatique", "'vision informatique': vision par ordinateur"),
    (r"utilisation colloque", "'utilisation colloque': l'usage courant"),
    (r"nouveau sur le terrain", "'nouveau sur le terrain' (new to the field): qui découvre le domaine"),
    (r"de manière trop rare", "'expliqués de manière trop rare': trop brièvement"),
    (r"niveau (libre|gratuit)", "'niveau libre' for the Free Tier: l'offre Always Free / Free Tier"),
    (r"\bd'PyTorch\b", "'d'PyTorch': de PyTorch"),
    (r"récipient", "'récipient' for container: conteneur"),
    (r"Dernière mise à jour le/la date", "the seed's 'Dernière mise à jour le/la date'"),
    (r"Durée estimée du laboratoire", "'laboratoire' for a lab: Durée estimée : N minutes"),
    (r"\b[Nn]euronaux\b|\b[Nn]euronal\b", "'réseaux neuronaux': réseaux de neurones"),
]

ALL_LABS = EN_LABS + FR_LABS + sorted(WORKSHOPS.glob("*/manifest*.json"))


@pytest.mark.parametrize("path", ALL_LABS, ids=lambda p: str(p.relative_to(LABS)))
def test_no_machine_translation_of_the_seed(path):
    text = read(path)
    for pattern, why in MISTRANSLATIONS:
        m = re.search(pattern, text, re.I if pattern.startswith(r"\btensors") else 0)
        assert not m, f"{path.relative_to(ROOT)}: {m.group(0)!r}: {why}"


# --------------------------------------------------------------------------------------------
# The glossary's terms in the French prose
# --------------------------------------------------------------------------------------------

def french_prose(french: Path) -> str:
    """The French text a learner reads, without what is quoted in English on purpose.

    Removed: code (fenced and inline), link and image targets, the text of links to English pages,
    image alt text, English glosses in parentheses "(*batch*)", and bold labels copied verbatim from
    the English twin (notebook section titles such as **1. What is a tensor?**, **Checks**).
    """
    text = without_code_blocks(read(french))
    english = read(french.with_name(french.name.replace("_fr.md", ".md")))
    english_bold = set(re.findall(r"\*\*([^*\n]+)\*\*", english))
    text = re.sub(r"`[^`\n]+`", " ", text)
    text = IMAGE.sub(" ", text)
    text = re.sub(r"\[([^\]]*)\]\((https?:[^)]*)\)", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"\(\*[^*\n]+\*", "(", text)  # (*English gloss*, ...)
    text = re.sub(r"\*\*([^*\n]+)\*\*", lambda m: " " if m.group(1) in english_bold else m.group(1), text)
    text = re.sub(r"https?://\S+", " ", text)
    return re.sub(r"\s+", " ", text)


ENGLISH_IN_FRENCH = [  # (pattern, the glossary's term)
    (r"(?<!cœurs )\b[Tt]ensors?\b(?! Cores)", "tenseur"),
    (r"\b[Bb]atch(es)?\b", "lot (batch)"),
    (r"\b[Ee]pochs?\b", "époque"),
    (r"\b[Ll]earning rate\b", "taux d'apprentissage"),
    (r"\b[Ll]oss( function)?\b", "fonction de perte, perte"),
    (r"\b[Aa]ccuracy\b", "exactitude"),
    (r"\bprécision\b(?! mixte)", "exactitude (accuracy); « précision » only in « précision mixte »"),
    (r"\b[Cc]heckpoints?\b", "point de contrôle (checkpoint)"),
    (r"\b[Ff]eature maps?\b", "carte de caractéristiques"),
    (r"\b[Dd]atasets?\b|\b[Dd]ata sets?\b", "jeu de données"),
    (r"\b[Tt]raining\b", "entraînement"),
    (r"\b[Ll]ayers?\b", "couche"),
    (r"\b[Oo]ptimizers?\b", "optimiseur"),
    (r"\bclassificateurs?\b", "classifieur"),
    (r"\bGPUs\b|\bCPUs\b", "GPU, CPU (invariable in French)"),
    (r"\b[Ss]tep(s)?\b", "étape"),
]


@pytest.mark.parametrize("french", FR_LABS, ids=lab_id)
def test_french_prose_follows_the_glossary(french):
    prose = french_prose(french)
    for pattern, term in ENGLISH_IN_FRENCH:
        m = re.search(pattern, prose)
        assert not m, (f"{french.name}: {m.group(0)!r} in French prose "
                       f"({prose[max(0, m.start() - 60):m.end() + 60]!r}); the glossary says: {term}")


@pytest.mark.parametrize("french", FR_LABS, ids=lab_id)
def test_french_number_formats(french):
    prose = french_prose(french)
    m = re.search(r"\b[1-9]\d{0,2}(,\d{3})+\b", prose)
    assert not m, f"{french.name}: {m.group(0)!r}: write thousands as « 50 000 » in French prose"
    m = re.search(r"\d%", prose)
    assert not m, f"{french.name}: {m.group(0)!r}: a space before % in French (« 54 % »)"
    m = re.search(r"\b\d+\.\d+ ?(%|secondes|minutes|Go|Mo|Gio|Mio)", prose)
    assert not m, f"{french.name}: {m.group(0)!r}: a decimal comma in French prose (« 0,5 »)"


def test_glossary_names_the_key_terms():
    text = read(GLOSSARY)
    for term in ("tenseur", "réseau de neurones convolutif", "lot", "époque", "taux d'apprentissage",
                 "fonction de perte", "optimiseur", "descente de gradient", "rétropropagation", "couche",
                 "noyau de convolution", "carte de caractéristiques", "sous-échantillonnage", "max-pooling",
                 "jeu de données", "chargeur de données", "exactitude", "point de contrôle", "profil",
                 "processeur graphique",
                 # rev-french.md: the terms the labs use that it lacked, and the choices it changed
                 "variante", "broadcasting (diffusion)", "vue, tranche", "hook", "perte cumulée", "phase d'échauffement",
                 "itérations de chauffe", "planificateur", "règle de proportionnalité linéaire", "enveloppe DDP",
                 "rendez-vous", "backend", "processeur de calcul fictif", "paquet utilitaire", "codé en dur",
                 "code propre au GPU", "jeu synthétique", "mémoire non paginable", "centrer-réduire",
                 "propagation avant", "sélectionner par masque"):
        assert term in text, f"labs/glossaire.md does not define {term!r}"
    for calque in ("mémoire épinglée", "données de substitution", "paquet d'aide", "perte courante"):
        assert not re.search(rf"^\| {calque}", text, re.M), f"labs/glossaire.md: {calque!r} is no longer the term (rev-french.md)"


@pytest.mark.parametrize("french", FR_LABS, ids=lab_id)
def test_no_typographic_spaces_in_code(french):
    """French typography puts no-break spaces in prose (« 50 000 », « : »); never in code a learner copies."""
    text = read(french)
    code = [m.group(0) for m in FENCE.finditer(text)]
    code += re.findall(r"`[^`]+`", without_code_blocks(text))  # a code span may go on to the next line
    code += [t for _, t in LINK.findall(text) + IMAGE.findall(text)]
    for snippet in code:
        assert "\u00a0" not in snippet and "\u202f" not in snippet, \
            f"{french.name}: a no-break space inside code or a link target: {snippet!r}"


# --------------------------------------------------------------------------------------------
# The glossary, as LiveLabs shows it
# --------------------------------------------------------------------------------------------

FR_MANIFESTS = sorted(WORKSHOPS.glob("*/manifest_fr.json"))


def test_glossary_link_renders_in_livelabs():
    """A link to the glossary opens it rendered, in the French edition the learner is reading.

    LiveLabs shows a relative `.md` link as raw Markdown (its `E()` only rewrites the address), so the labs
    link the glossary as the tutorial it is in every French manifest, `?lab=glossaire`, the form of every
    other link between labs. A `?lab=` name missing from the manifest silently shows the introduction.
    """
    linking = {lab_id(p) for p in FR_LABS if GLOSSARY_LINK in link_targets(read(p))}
    assert "introduction" in linking, f"introduction_fr.md: link the glossary as [glossaire]({GLOSSARY_LINK})"
    for path in FR_LABS + [GLOSSARY]:
        raw = [t for t in link_targets(read(path)) if t.split("#")[0].endswith("glossaire.md")]
        assert not raw, f"{path.relative_to(ROOT)}: {raw}: LiveLabs shows a .md link raw; write {GLOSSARY_LINK}"
    assert FR_MANIFESTS, "no labs/workshops/*/manifest_fr.json"
    for manifest in FR_MANIFESTS:
        tutorials = json.loads(read(manifest))["tutorials"]
        names = [livelabs_name(t["filename"]) for t in tutorials]
        listed = {n[:-3] for n in names if n.endswith("_fr")} & linking
        if not listed:
            continue
        glossary = [t for t in tutorials if livelabs_name(t["filename"]) == GLOSSARY_LINK[5:]]
        assert len(glossary) == 1, (f"{manifest.relative_to(ROOT)} lists {sorted(listed)}, which link "
                                    f"{GLOSSARY_LINK}: list the glossary once, as its last tutorial")
        assert (manifest.parent / glossary[0]["filename"]).resolve() == GLOSSARY, \
            f"{manifest.relative_to(ROOT)}: the glossary tutorial must be labs/glossaire.md"
        assert glossary[0]["title"] == "Glossaire", f"{manifest.relative_to(ROOT)}: title it « Glossaire »"
    text = read(GLOSSARY)
    assert re.match(r"# \S", text), "labs/glossaire.md: LiveLabs takes the tutorial's title from its '# ' line"
    relative = [t for t in link_targets(text) + image_targets(text) if is_relative(t) and not t.startswith("?")]
    assert not relative, f"labs/glossaire.md: {relative}: LiveLabs resolves relative links against labs/"


# --------------------------------------------------------------------------------------------
# Objectives and prerequisites: the same list in both editions
# --------------------------------------------------------------------------------------------

def list_section(text: str, heading: str) -> list[str]:
    """The items of the bullet list under `### heading`, each item with its continuation lines."""
    m = re.search(rf"^### {heading}[ \t]*\n(.*?)(?=^#|\Z)", without_code_blocks(text), re.M | re.S)
    assert m, f"no '### {heading}'"
    items: list[str] = []
    for line in m.group(1).splitlines():
        if re.match(r"\* ", line):
            items.append(line[2:])
        elif items and line.strip():
            assert re.match(r"[ \t]+\S", line), f"'### {heading}': a line that belongs to no item: {line!r}"
            items[-1] += " " + line.strip()
    return items


def numbers(text: str, french: bool) -> list[str]:
    """The numbers of a sentence, outside code, normalised: 50 000 / 50,000 -> 50000, 0,5 -> 0.5."""
    text = re.sub(r"`[^`]*`", " ", text)
    if french:
        text = re.sub(r"(?<=\d)[\u202f\u00a0 ](?=\d{3}\b)", "", text)
        text = re.sub(r"(?<=\d),(?=\d)", ".", text)
    else:
        text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    return re.findall(r"(?<![\w.])\d+(?:\.\d+)*", text)


def emphasised(text: str) -> int:
    """How many names of several words a sentence gives in *italics* (the labs name other labs so);
    one-word English glosses such as "(*batch*)" or "*broadcasting*" aside."""
    text = re.sub(r"\*\*[^*]+\*\*", " ", text)
    text = re.sub(r"\(\*[^*]+\*", "(", text)
    return len(re.findall(r"(?<!\*)\*[^*\s][^*]*\s[^*]*\*(?!\*)", text))


def letters(text: str) -> list[str]:
    """The capital letters that stand alone in a sentence, outside code: the setup options A to D."""
    return sorted(re.findall(r"(?<![\w'’.-])[A-D](?=[,)]|[\u00a0\u202f ]?[:;]| (?:or|ou|and|et)\b|\s*$)",
                             re.sub(r"`[^`]*`", " ", text)))


NUMBER_WORDS = {"2": "deux", "3": "trois", "4": "quatre", "5": "cinq", "6": "six", "7": "sept", "8": "huit",
                "9": "neuf", "10": "dix"}  # "a 2-D loss surface": « une surface à deux dimensions »


@pytest.mark.parametrize("english", EN_LABS, ids=lab_id)
@pytest.mark.parametrize("en_heading, fr_heading", [("Objectives", "Objectifs"), ("Prerequisites", "Prérequis")])
def test_same_objectives_and_prerequisites(english, en_heading, fr_heading):
    """Item by item, the French list says what the English says: as many items, in each the same commands
    (`code`), the same numbers and links, and as many labs named in italics. (An item left over from an
    older English prerequisite is how "Terminé tous les labs précédents *Fonction de perte et optimiseur*"
    once rendered.)"""
    french = twin(english)
    en_text, fr_text = read(english), read(french)
    if not re.search(rf"^### {en_heading}\s*$", en_text, re.M):
        pytest.skip(f"{english.name} has no {en_heading}")
    en, fr = list_section(en_text, en_heading), list_section(fr_text, fr_heading)
    assert len(fr) == len(en), (f"{french.name}: {len(fr)} items under '### {fr_heading}', the English has "
                                f"{len(en)}:\n" + "\n".join(f"  EN * {e}" for e in en)
                                + "\n" + "\n".join(f"  FR * {f}" for f in fr))
    for i, (e, f) in enumerate(zip(en, fr), 1):
        where = f"{french.name}, '### {fr_heading}' item {i}"
        missing = inline_code(e) - inline_code(f)  # the French may add a gloss: `Dataset`, `DataLoader`
        assert not missing, f"{where}: the English item's code {sorted(missing)} is missing:\n  EN {e}\n  FR {f}"
        written = Counter(n for n in Counter(numbers(e, False)) - Counter(numbers(f, True))
                          if n in NUMBER_WORDS and re.search(rf"\b{NUMBER_WORDS[n]}\b", f))
        assert Counter(numbers(f, True)) + written == Counter(numbers(e, False)), \
            f"{where}: numbers {numbers(f, True)}, the English has {numbers(e, False)}:\n  EN {e}\n  FR {f}"
        assert Counter(map(english_target, link_targets(f))) == Counter(link_targets(e)), f"{where}: links differ"
        options = [letters(f), letters(e)]  # the setup options, « A, B, C ou D »
        assert options[0] == options[1], f"{where}: setup options {options[0]}, the English has {options[1]}"
        assert emphasised(f) == emphasised(e), \
            f"{where}: {emphasised(f)} italic names, the English has {emphasised(e)}:\n  EN {e}\n  FR {f}"


# --------------------------------------------------------------------------------------------
# French typography
# --------------------------------------------------------------------------------------------

def typographic_text(path: Path) -> str:
    """What a learner reads, with its no-break spaces kept: code, link targets, addresses and the English
    labels quoted on purpose (bold notebook titles) become `x`, so that nothing around them changes."""
    text = without_code_blocks(read(path))
    if path.suffix == ".json":
        manifest = json.loads(text)
        text = "\n".join([manifest["workshoptitle"]] + [t[k] for t in manifest["tutorials"] for k in ("title", "description")])
    english = path.with_name(path.name.replace("_fr.md", ".md"))
    english_bold = set(re.findall(r"\*\*([^*\n]+)\*\*", read(english))) if english != path and english.is_file() else set()
    if path == GLOSSARY:  # its example of a notebook section title, quoted in English
        english_bold = set(re.findall(SECTION, text))
    text = re.sub(r"\*\*([^*\n]+)\*\*", lambda m: "x" if m.group(1) in english_bold else m.group(0), text)
    text = re.sub(r"<copy>.*?</copy>", "x", text, flags=re.S)
    text = re.sub(r"^[ \t>]*\|[-:| ]+\|[ \t]*$", "", text, flags=re.M)  # a table's alignment row
    text = re.sub(r"`[^`]+`", "x", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "x", text)  # alt text: test_alt_text_typography
    text = re.sub(r"\[[^\]]*\]\(https?:[^)]*\)", "x", text)  # a page's title, often English
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return re.sub(r"https?://\S+", "x", text)


TYPOGRAPHY = [  # (pattern, what French typography writes instead)
    (r"[^\s\u00a0\u202f][:;!?](?=[\s*)]|$)", "a no-break space before « : » and a narrow one before « ; ! ? »"),
    (r" [:;!?]", "a no-break space (U+00A0 before « : », U+202F before « ; ! ? »), not an ordinary space"),
    (r"[\u202f]:", "U+00A0 before « : », as everywhere else in the labs"),
    (r"\u00a0[;!?]", "U+202F (narrow no-break space) before « ; ! ? », as everywhere else in the labs"),
    (r"«(?!\u00a0)|(?<!\u00a0)»", "« guillemets » with a no-break space inside"),
    (r"[\"“”]", "« guillemets » in French prose"),
    (r"\d[ \u00a0]%", "a narrow no-break space (U+202F) before % (« 54 % »)"),
    (r"(?<!port )(?<!\(ici )\b\d{5,}\b", "a narrow no-break space between thousands (« 50 000 »); not in port numbers"),
]


@pytest.mark.parametrize("path", FR_LABS + [GLOSSARY] + FR_MANIFESTS, ids=lambda p: str(p.relative_to(LABS)))
def test_french_typography(path):
    text = typographic_text(path)
    for pattern, rule in TYPOGRAPHY:
        m = re.search(pattern, text, re.M)
        assert not m, (f"{path.relative_to(ROOT)}: {text[max(0, m.start() - 50):m.end() + 30]!r}: {rule}")


@pytest.mark.parametrize("french", FR_LABS, ids=lab_id)
def test_alt_text_typography(french):
    """Alt text is read aloud: French punctuation there too, and dimensions written 3 × 3, not 3 sur 3."""
    for alt, target in IMAGE.findall(read(french)):
        for pattern, rule in TYPOGRAPHY[:5] + [(r"\d sur \d", "« 3 × 3 » for dimensions")]:
            m = re.search(pattern, alt)
            assert not m, f"{french.name}: image {target}: {alt[max(0, m.start() - 40):m.end() + 20]!r}: {rule}"


# --------------------------------------------------------------------------------------------
# The glossary's first-use rule
# --------------------------------------------------------------------------------------------

FIRST_USE = [  # (French term, its English gloss): glossaire.md, "la première fois qu'il apparaît"
    ("exactitude", "accuracy"),
    ("époque", "epoch"),
    ("taux d'apprentissage", "learning rate"),
    ("fonction de perte", "loss function"),
    ("optimiseur", "optimizer"),
]


def body_text(french: Path) -> str:
    """A lab's prose up to "En savoir plus": no headings, tables, code, link targets or lab titles in italics."""
    text = without_code_blocks(read(french)).split("\n## En savoir plus")[0]
    text = re.sub(r"^#.*$", " ", text, flags=re.M)
    text = re.sub(r"^[ \t>]*\|.*$", " ", text, flags=re.M)  # tables: labels and figures; the prose glosses
    text = re.sub(r"`[^`\n]+`", " ", text)
    text = IMAGE.sub(" ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    titles = {re.sub(r"^Lab \d+[^:]*:\s*", "", t["title"]).strip()
              for m in FR_MANIFESTS for t in json.loads(read(m))["tutorials"]}
    text = re.sub(r"(?<!\()\*([^*\n]+)\*", lambda m: " " if m.group(1).strip() in titles else m.group(0), text)
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("french", FR_LABS, ids=lab_id)
def test_key_terms_glossed_at_first_use(french):
    """LiveLabs can show any lab alone: each lab gives the English of its key terms the first time it uses
    them (« l'exactitude (*accuracy*, le taux de bonnes réponses) »), as notebooks print epoch, loss, lr."""
    text = body_text(french)
    for term, gloss in FIRST_USE:
        m = re.search(rf"\b{term}s?\b", text, re.I)
        if not m:
            continue
        after = text[m.end():m.end() + 60]
        assert re.search(rf"\*{gloss}", after, re.I), (
            f"{french.name}: the first « {term} » ({text[max(0, m.start() - 40):m.end() + 40]!r}) "
            f"needs its English, « {term} (*{gloss}*) »")


@pytest.mark.parametrize("manifest", FR_MANIFESTS, ids=lambda p: p.parent.name)
def test_lab_links_resolve_in_each_french_edition(manifest):
    """A `?lab=` link that the edition does not list silently shows its first tutorial: in every French
    edition, each link of a listed lab names a tutorial of that edition."""
    tutorials = json.loads(read(manifest))["tutorials"]
    names = {livelabs_name(t["filename"]) for t in tutorials}
    broken = []
    for t in tutorials:
        path = (manifest.parent / t["filename"]).resolve()
        if re.match(r"[a-z]+://", t["filename"]) or not path.is_file():
            continue
        for target in link_targets(read(path)):
            m = re.match(r"\?lab=([\w-]+)", target)
            if m and m.group(1) not in names:
                broken.append(f"{path.name}: {target}")
    assert not broken, f"{manifest.relative_to(ROOT)} does not list the labs these links name: {broken}"
