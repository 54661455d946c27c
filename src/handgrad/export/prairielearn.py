"""A PrairieLearn course folder: one question that draws a fresh variant per student and grades
it with handgrad's grader.

Layout (PrairieLearn's course format): `infoCourse.json` (uuid, name, title, topics, tags),
`questions/<qid>/info.json` (uuid, title, topic, tags, "type": "v3"), `question.html`
(`pl-question-panel`; `pl-matrix-input` for vectors and matrices, `pl-number-input` for scalars,
the quantity names as `answers-name`), `server.py` (`generate`, `parse`, `grade`), and
`serverFilesCourse/handgrad/` (the vendored solver, generator and grader: PrairieLearn puts
serverFilesCourse on server.py's import path). UUIDs are derived from the question's id and the
problem kind (what every variant asks), never from a variant's title or id, so exporting again
(another seed, another roster) updates the same question rather than adding one.

A second question, `questions/handgrad-derivation/`, is Problem 1: the gradients as formulas
(`pl-string-input` per gradient, NumPy-like or LaTeX), for a network of the same kind, graded
by handgrad's derivation grader for every size. An assessment lists either question or both.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from pathlib import Path
from typing import Any

from handgrad.atomic import write_file, write_folder
from handgrad.errors import HandgradError
from handgrad.export import Variant
from handgrad.export.vendor import vendored_files

QID = "handgrad-backprop"
DERIVATION_QID = "handgrad-derivation"
TOPIC = "Backpropagation"
TAGS = ("handgrad", "backprop")
NAMESPACE = uuid.UUID("6f1c2a7e-5b0d-4c57-9a59-0d3f5e8b7c21")  # handgrad's, for uuid5
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# A question's server.py: its doc line, and the hooks of export/runtime.py it hands each call to.
SERVER_PY = '''"""{doc}"""

import json

from handgrad.export.runtime import {hooks}

CONFIG = json.loads({config!r})
_HOOKS = {hooks}(CONFIG)


def generate(data):
    _HOOKS["generate"](data)


def parse(data):
    _HOOKS["parse"](data)


def grade(data):
    _HOOKS["grade"](data)
'''
BACKPROP_DOC = """handgrad's backpropagation question: a fresh variant from data["variant_seed"],
graded by handgrad's grader (error carried forward, likely causes). Written by handgrad export."""
DERIVATION_DOC = """handgrad's Problem 1: the gradients as formulas for a network of the
exported kind, graded by handgrad's derivation grader for every size. Written by handgrad
export."""


def answer_names(variant: Variant) -> list[dict[str, Any]]:
    """Each asked quantity's answer: its name (the quantity's own, or section_name where two
    sections share it), section, key, shape and TeX symbol."""
    asked = variant.asked()
    keys = [q.key for q in asked]
    answers = []
    for q in asked:
        name = q.key if keys.count(q.key) == 1 and _IDENTIFIER.match(q.key) else (
            re.sub(r"\W", "_", f"{q.section}_{q.key}"))
        answers.append({"name": name, "section": q.section, "key": q.key,
                        "shape": list(getattr(q.value, "shape", ())), "latex": q.symbol.latex})
    return answers


def settings_for(variants: list[Variant]) -> dict[str, Any]:
    """The generator's settings that draw problems of the variants' kind; a kind it cannot
    draw (frozen parameters, a summed loss, another ReLU derivative at 0) is an error."""
    unsupported: set[str] = set()
    shapes: set[tuple[Any, ...]] = set()
    choices: dict[str, set[Any]] = {key: set() for key in (
        "activations", "outputs", "smoothings", "layouts", "epsilons", "learning_rates")}
    decimals = 0
    for variant in variants:
        spec, problem = variant.problem.spec, variant.problem
        if spec.optimizer.frozen:
            unsupported.add("optimizer.frozen (fresh variants freeze nothing)")
        if spec.loss.reduction != "mean":
            unsupported.add(f"loss.reduction = {spec.loss.reduction!r} (the generator's is the"
                            " mean)")
        if spec.network.relu_grad_at_zero != 0.0:
            unsupported.add("network.relu_grad_at_zero (the generator keeps 0)")
        if spec.loss.kind != ("cross_entropy" if spec.network.output == "softmax"
                              else "squared_error"):
            unsupported.add(f"loss.kind = {spec.loss.kind!r} with a {spec.network.output}"
                            " output (the generator pairs softmax with cross-entropy and"
                            " other outputs with squared error)")
        batch = int(problem.x.shape[0]) if problem.batched else 1
        shapes.add((tuple(spec.network.layers), batch, spec.optimizer.steps))
        choices["activations"].add(spec.network.activation)
        choices["outputs"].add(spec.network.output)
        choices["smoothings"].add(spec.loss.smoothing)
        choices["layouts"].add(spec.network.layout)
        choices["learning_rates"].add(float(spec.optimizer.learning_rate))
        if spec.loss.kind == "cross_entropy":
            choices["epsilons"].add(float(spec.loss.label_smoothing))
        numbers = [*problem.params.values(), problem.x]
        if any(not float(v).is_integer() for array in numbers for v in array.ravel()):
            decimals = 1
    if len(shapes) > 1:
        unsupported.add("variants with different layers, batch sizes or steps (one question"
                        " has one set of answer blanks): export each kind on its own")
    if unsupported:
        raise HandgradError("PrairieLearn export: the question draws fresh variants with"
                            " handgrad's generator, which cannot draw "
                            + "; ".join(sorted(unsupported)))
    layers, batch, steps = shapes.pop()
    settings: dict[str, Any] = {key: sorted(values) for key, values in choices.items() if values}
    settings.update(layers=list(layers), batch=batch, steps=steps, decimals=decimals)
    return settings


SAME_QUANTITIES = ("A PrairieLearn question asks the same quantities of every variant: export"
                   " one output/loss kind at a time")


def same_quantities(variants: list[Variant]) -> None:
    """Refuse a set whose variants ask different quantities (mixed outputs or losses), checked
    over every variant: the question has one set of answer blanks."""
    outputs = sorted({v.problem.spec.network.output for v in variants})
    losses = sorted({v.problem.spec.loss.kind for v in variants})
    asked = {json.dumps(answer_names(v), sort_keys=True) for v in variants}
    if len(outputs) > 1 or len(losses) > 1 or len(asked) > 1:
        found = f"outputs {', '.join(outputs)}; losses {', '.join(losses)}"
        raise HandgradError(f"{SAME_QUANTITIES} (these variants have {found})")


def problem_kind(config: dict[str, Any]) -> str:
    """What every variant of the question is: its output (which fixes the loss), layers, batch,
    steps and the quantities asked; stable across seeds and rosters, unlike a variant's title."""
    settings = config["settings"]
    asked = ",".join(f"{a['section']}.{a['key']}" for a in config["answers"])
    return (f"{'/'.join(settings.get('outputs', []))}|{settings['layers']}|{settings['batch']}|"
            f"{settings['steps']}|{asked}")


def question_config(variants: list[Variant]) -> dict[str, Any]:
    """What server.py needs: the generator's settings, the title, the answers, the tolerance."""
    from handgrad.export.runtime import draw, set_title

    same_quantities(variants)
    first = variants[0]
    config: dict[str, Any] = {
        "title": set_title({v.id: v.problem.spec.title or "" for v in variants}),
        "settings": settings_for(variants),
        "answers": answer_names(first),
        "tolerance": {"rtol": 1e-3, "decimals": "auto"},
    }
    try:  # the generator accepts these settings and draws a problem asking the same quantities
        from handgrad.problem import validate_problem
        from handgrad.solver import solve

        drawn = solve(validate_problem(draw(config, 0), "variant"))
    except HandgradError as error:
        raise HandgradError(f"PrairieLearn export: cannot draw variants of this kind: {error}"
                            ) from None
    drawn_keys = {(q.section, q.key) for q in drawn.quantities}
    missing = [a["key"] for a in config["answers"] if (a["section"], a["key"]) not in drawn_keys]
    if missing:
        raise HandgradError("PrairieLearn export: a drawn variant does not ask for "
                            + ", ".join(missing))
    return config




def derivation_config(variants: list[Variant], config: dict[str, Any]) -> dict[str, Any]:
    """Problem 1's server.py configuration: the backprop question's settings and title (so the
    same kinds of network are drawn), and a blank per gradient of the variants' depth."""
    from handgrad.export.runtime import formula_answers

    return {"title": config["title"], "settings": config["settings"],
            "formulas": formula_answers(variants[0].problem)}


def derivation_html(config: dict[str, Any]) -> str:
    """Problem 1's page: a string input per asked gradient, the steps optional (allow-blank),
    the grader's report under the submission, the right formulas in the answer panel."""
    lines = ["<pl-question-panel>", "  {{{params.statement}}}", "</pl-question-panel>", ""]
    asked = [f for f in config["formulas"] if f["asked"]]
    steps = [f for f in config["formulas"] if not f["asked"]]
    for title, group in (("The gradients", asked), ("Your steps (optional)", steps)):
        lines.append(f"<p><strong>{title}</strong></p>")
        for formula in group:
            label = html.escape(f"${formula['latex']} =$", quote=True)
            blank = "" if formula["asked"] else ' allow-blank="true"'
            lines.append(f'<pl-string-input answers-name="{formula["name"]}" label="{label}"'
                         f' remove-leading-trailing="true" size="50"{blank}'
                         ' show-help-text="false"></pl-string-input>')
    lines += ["", "<pl-submission-panel>", "  <pre>{{feedback.report}}</pre>",
              "</pl-submission-panel>", "", "<pl-answer-panel>",
              "  {{{params.answer_html}}}", "</pl-answer-panel>", ""]
    return "\n".join(lines)


def question_html(config: dict[str, Any]) -> str:
    """The question's page: the statement from params, one input per asked quantity."""
    lines = ["<pl-question-panel>", "  {{{params.statement}}}", "</pl-question-panel>", ""]
    section = ""
    for answer in config["answers"]:
        if answer["section"] != section:
            section = answer["section"]
            lines.append(f"<p><strong>{html.escape(section.capitalize())}</strong></p>")
        label = html.escape(f"${answer['latex']} =$", quote=True)
        element = "pl-number-input" if not answer["shape"] else "pl-matrix-input"
        lines.append(f'<{element} answers-name="{answer["name"]}" label="{label}"></{element}>')
    lines += ["", "<pl-submission-panel>", "  <pre>{{feedback.report}}</pre>",
              "</pl-submission-panel>", ""]
    return "\n".join(lines)


def course_files(variants: list[Variant]) -> dict[str, str | bytes]:
    """{path inside the course folder: content} of the whole export."""
    if not variants:
        raise HandgradError("PrairieLearn export: no problems to export")
    config = question_config(variants)
    title, kind = config["title"], problem_kind(config)
    info_course = {
        "uuid": str(uuid.uuid5(NAMESPACE, f"course:{QID}:{kind}")),
        "name": "handgrad",
        "title": f"{title} (handgrad)",
        "topics": [{"name": TOPIC, "color": "blue1",
                    "description": "Forward pass, backward pass and gradient descent by hand"}],
        "tags": [{"name": tag, "color": "gray1"} for tag in TAGS],
    }
    info_question = {
        "uuid": str(uuid.uuid5(NAMESPACE, f"question:{QID}:{kind}")),
        "title": title,
        "topic": TOPIC,
        "tags": list(TAGS),
        "type": "v3",
    }
    config_text = json.dumps(config, ensure_ascii=False, sort_keys=True)
    formulas = derivation_config(variants, config)
    info_derivation = {
        "uuid": str(uuid.uuid5(NAMESPACE, f"question:{DERIVATION_QID}:{kind}")),
        "title": f"{title}: the gradients as formulas",
        "topic": TOPIC,
        "tags": list(TAGS),
        "type": "v3",
    }
    files: dict[str, str | bytes] = {
        "infoCourse.json": json.dumps(info_course, indent=2, ensure_ascii=False) + "\n",
        f"questions/{QID}/info.json": json.dumps(info_question, indent=2) + "\n",
        f"questions/{QID}/question.html": question_html(config),
        f"questions/{QID}/server.py": SERVER_PY.format(
            doc=BACKPROP_DOC, hooks="server_hooks", config=config_text),
        f"questions/{DERIVATION_QID}/info.json": json.dumps(info_derivation, indent=2) + "\n",
        f"questions/{DERIVATION_QID}/question.html": derivation_html(formulas),
        f"questions/{DERIVATION_QID}/server.py": SERVER_PY.format(
            doc=DERIVATION_DOC, hooks="derivation_hooks",
            config=json.dumps(formulas, ensure_ascii=False, sort_keys=True)),
    }
    files.update(vendored_files("serverFilesCourse/"))
    return files


def write(variants: list[Variant], output: Path) -> Path:
    """Write the course folder `output` whole, or nothing: it is built beside `output` and
    moved into place (an existing `output`, refused earlier unless --force, is replaced)."""
    files = course_files(variants)  # every error a user can cause is raised before writing
    output = output.expanduser()
    if output.exists() and not output.is_dir():
        raise HandgradError(f"-o {output}: is a file; PrairieLearn's export is a folder")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise HandgradError(f"-o {output}: the folder {parent} does not exist")

    def write_course(staging: Path) -> None:
        for name, content in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            write_file(path, content)

    write_folder(output, write_course, replace=lambda earlier: None)  # checked by the CLI
    return output
