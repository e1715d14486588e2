"""An instrument as a FHIR R4 Questionnaire (export only, for interoperability).

A Questionnaire is a form; it has no place for what makes an instrument a
structured professional judgement, so this export loses (and
docs/assessments/instrument-format.md says so): the relevance ratings, the
mandatory rationale of the final judgement, the scenarios, the management
plan, whether an item is a risk or a protective factor, the guidance texts,
the category, the review interval, the required training and the item
mapping across versions. The other languages travel in FHIR's translation
extension.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from prepare.assessments.scales import BUILTIN_SCALES

TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"


def _text(text: Mapping[str, str], language: str, field: str = "text") -> dict[str, Any]:
    """``{"text": ..., "_text": {translations}}`` for one instrument text."""
    out: dict[str, Any] = {field: text[language]}
    others = [
        {
            "url": TRANSLATION,
            "extension": [
                {"url": "lang", "valueCode": code},
                {"url": "content", "valueString": value},
            ],
        }
        for code, value in text.items()
        if code != language
    ]
    if others:
        out[f"_{field}"] = {"extension": others}
    return out


def _platform_text(content: Mapping[str, Any], which: str) -> dict[str, str]:
    """One of PREPARE's own words, in each of the instrument's languages."""
    out = {}
    for code in content["languages"]:
        with translation.override(code):
            out[code] = {"evidence": _("Evidence"), "judgement": _("Final judgement")}[which]
    return out


def _options(scale_key: str, scale: Mapping[str, Any], language: str) -> list[dict[str, Any]]:
    return [
        {
            "valueCoding": {
                "system": f"urn:prepare:scale:{scale_key}",
                "code": level["key"],
                **_text(level["label"], language, "display"),
            }
        }
        for level in scale["levels"]
    ]


def to_questionnaire(content: Mapping[str, Any]) -> dict[str, Any]:
    """The Questionnaire of canonical content, in its first language."""
    language = content["languages"][0]
    scales = {**BUILTIN_SCALES, **content.get("scales", {})}
    groups = []
    for domain in content["domains"]:
        questions: list[dict[str, Any]] = []
        for item in content["items"]:
            if item["domain"] != domain["id"]:
                continue
            questions.append(
                {
                    "linkId": item["id"],
                    "type": "choice",
                    **_text(item["label"], language),
                    "answerOption": _options(item["scale"], scales[item["scale"]], language),
                }
            )
            questions.append(
                {
                    "linkId": f"{item['id']}.evidence",
                    "type": "text",
                    **_text(_platform_text(content, "evidence"), language),
                    "required": item["evidence_required"],
                }
            )
        groups.append(
            {
                "linkId": f"domain.{domain['id']}",
                "type": "group",
                **_text(domain["label"], language),
                "item": questions,
            }
        )
    judgement = content["judgement"]
    groups.append(
        {
            "linkId": "judgement",
            "type": "choice",
            "required": True,
            **_text(judgement.get("label") or _platform_text(content, "judgement"), language),
            "answerOption": _options("judgement", judgement, language),
        }
    )
    questionnaire: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "url": f"urn:prepare:instrument:{content['identifier']}",
        "version": content["version"],
        "name": content["identifier"].replace("-", "_"),
        **_text(content["title"], language, "title"),
        "status": "active",
        "language": language,
        "item": groups,
    }
    if "description" in content:
        questionnaire.update(_text(content["description"], language, "description"))
    return questionnaire
