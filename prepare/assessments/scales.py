"""The built-in rating scales, referenced by key from any instrument.

They are data, like an instrument, with their texts in every language of the
installation. A built-in scale never changes once shipped: assessments refer
to it by key for ever, so a different scale is a new key.
"""

from __future__ import annotations

from typing import Any


def _level(key: str, **label: str) -> dict[str, Any]:
    return {"key": key, "label": dict(label)}


BUILTIN_SCALES: dict[str, dict[str, Any]] = {
    "low-moderate-high": {
        "levels": [
            _level(
                "low",
                en="Low",
                fr="Faible",
                nl="Laag",
                es="Bajo",
                ca="Baix",
                de="Niedrig",
                sv="Låg",
            ),
            _level(
                "moderate",
                en="Moderate",
                fr="Modéré",
                nl="Matig",
                es="Moderado",
                ca="Moderat",
                de="Mittel",
                sv="Måttlig",
            ),
            _level(
                "high", en="High", fr="Élevé", nl="Hoog", es="Alto", ca="Alt", de="Hoch", sv="Hög"
            ),
        ]
    },
    "present-partly-absent-unknown": {
        "levels": [
            _level(
                "present",
                en="Present",
                fr="Présent",
                nl="Aanwezig",
                es="Presente",
                ca="Present",
                de="Vorhanden",
                sv="Föreligger",
            ),
            _level(
                "partly",
                en="Partly present",
                fr="Partiellement présent",
                nl="Gedeeltelijk aanwezig",
                es="Parcialmente presente",
                ca="Parcialment present",
                de="Teilweise vorhanden",
                sv="Föreligger delvis",
            ),
            _level(
                "absent",
                en="Absent",
                fr="Absent",
                nl="Afwezig",
                es="Ausente",
                ca="Absent",
                de="Nicht vorhanden",
                sv="Föreligger inte",
            ),
            _level(
                "unknown",
                en="Unknown (not enough information)",
                fr="Inconnu (pas assez d'informations)",
                nl="Onbekend (onvoldoende informatie)",
                es="Desconocido (información insuficiente)",
                ca="Desconegut (informació insuficient)",
                de="Unbekannt (zu wenig Informationen)",
                sv="Okänt (otillräcklig information)",
            ),
        ]
    },
    "relevance": {
        "levels": [
            _level(
                "low",
                en="Low relevance",
                fr="Pertinence faible",
                nl="Weinig relevant",
                es="Relevancia baja",
                ca="Rellevància baixa",
                de="Geringe Relevanz",
                sv="Låg relevans",
            ),
            _level(
                "moderate",
                en="Moderate relevance",
                fr="Pertinence modérée",
                nl="Matig relevant",
                es="Relevancia moderada",
                ca="Rellevància moderada",
                de="Mittlere Relevanz",
                sv="Måttlig relevans",
            ),
            _level(
                "high",
                en="High relevance",
                fr="Pertinence élevée",
                nl="Zeer relevant",
                es="Relevancia alta",
                ca="Rellevància alta",
                de="Hohe Relevanz",
                sv="Hög relevans",
            ),
        ]
    },
    "numeric-0-2": {
        "levels": [
            _level(
                "0",
                en="0: not present",
                fr="0: absent",
                nl="0: niet aanwezig",
                es="0: no presente",
                ca="0: no present",
                de="0: nicht vorhanden",
                sv="0: föreligger inte",
            ),
            _level(
                "1",
                en="1: possibly or partly present",
                fr="1: peut-être ou partiellement présent",
                nl="1: mogelijk of gedeeltelijk aanwezig",
                es="1: posible o parcialmente presente",
                ca="1: possible o parcialment present",
                de="1: möglicherweise oder teilweise vorhanden",
                sv="1: föreligger möjligen eller delvis",
            ),
            _level(
                "2",
                en="2: present",
                fr="2: présent",
                nl="2: aanwezig",
                es="2: presente",
                ca="2: present",
                de="2: vorhanden",
                sv="2: föreligger",
            ),
        ]
    },
}

# The scale relevance is rated on, when an item asks for it.
RELEVANCE_SCALE = "relevance"
# The scale a scenario's likelihood is rated on unless the instrument names one.
DEFAULT_LIKELIHOOD_SCALE = "low-moderate-high"
