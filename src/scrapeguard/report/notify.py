"""A draft breach notification, laid out for the questions a supervisory authority asks.

The sections follow GDPR Art. 33(3) (nature of the breach; categories and approximate numbers
of people and records; contact point; likely consequences; measures taken or proposed), plus
the timing Art. 33(1) asks about. scrapeguard fills in what the logs show; what only the
platform knows (who it is, when it became aware, what it has done, who its DPO is) is left as
`to_complete` entries with a prompt and a null `value`. It is a working draft, not legal
advice, and says so in the data itself, so the warning travels with any tool that reads it.
"""

from __future__ import annotations

from typing import Any

from scrapeguard.report.prose import join, when
from scrapeguard.words import plural

DISCLAIMER = (
    "Not legal advice. This is a draft prepared from access logs by software; whether, when "
    "and to whom a breach must be notified depends on facts and law that scrapeguard cannot "
    "assess. Have it reviewed by your data protection officer or counsel."
)

CONSEQUENCES = {
    "phone": "unsolicited calls and text messages, smishing and SIM-swap attempts, and phone "
             "numbers linked to profiles",
    "name": "identification of people and their linking to other data sets",
    "comment": "profiling from what people wrote, and their linking to it",
    "address": "risks to physical safety, fraud and unwanted mail",
    "email": "phishing and spam addressed by name",
    "order": "profiling of purchases and targeted fraud",
    "birthdate": "identity fraud",
}


def _todo(key: str, prompt: str) -> dict[str, Any]:
    return {"id": key, "prompt": prompt, "value": None}


def _catalogue(s: dict[str, Any]) -> str:
    """Catalogue harvests are named apart: products and listings are nobody's personal data."""
    n = s.get("catalogue_harvests", 0)
    if not n:
        return ""
    return (f" Separately, {plural(n, 'actor')} harvested the catalogue "
            f"({s.get('catalogue_items_received', 0):,} items: products, listings, articles); "
            f"that is not personal data and is not part of this notification.")


def _unconfirmed(s: dict[str, Any]) -> str:
    """Say when a figure rests on a route scrapeguard inferred and nobody confirmed."""
    routes = s.get("unconfirmed_routes") or []
    if not routes:
        return ""
    names = join([r["template"] for r in routes[:5]])
    return (f" These figures rest on {plural(len(routes), 'route')} that scrapeguard inferred "
            f"from the log as carrying people's records and nobody has confirmed ({names}): "
            f"confirm them with `scrapeguard routes LOG --write routes.yaml` and "
            f"`analyze --policy routes.yaml` before relying on the figures.")


def notification(report: dict[str, Any]) -> dict[str, Any]:
    """The draft for `report`: sections with pre-filled answers and entries to complete."""
    s = report["summary"]
    fields = s["fields"]
    people = s["people_affected"]
    harms = [CONSEQUENCES[f] for f in fields if f in CONSEQUENCES]
    takers = [a for a in report["actors"] if not a.get("catalogue_harvest")]
    sections = [
        {
            "id": "nature",
            "heading": "Nature of the breach",
            "question": "What happened?",
            "answer": (
                f"Automated bulk collection (scraping) of personal data served by the platform's "
                f"own pages and APIs, by {plural(len(takers), 'actor')}"
                + (f" ({plural(s['campaigns'], 'linked campaign')})" if s["campaigns"] else "")
                + f", between "
                f"{when(s['first_seen'])} and {when(s['last_seen'])}. The data was obtained "
                f"through requests the platform answered, not by intrusion into its systems."
                + _catalogue(s)
            ),
            "to_complete": [
                _todo("controller", "Name and address of the controller (the platform)"),
                _todo("systems", "Systems, pages or APIs affected, as the platform names them"),
            ],
        },
        {
            "id": "scale",
            "heading": "Categories and approximate number of people and records",
            "question": "Whose data, which data, and how much?",
            "answer": (
                f"About {plural(people, 'person', 'people')} had records taken; "
                f"{s['records_received']:,} records were received in total over all actors "
                f"(one person's record can be counted once per actor). Categories of data: "
                f"{join(fields) if fields else 'not classified by the logs or the policy'}."
                + _unconfirmed(s)
            ),
            "figures": {
                "people_affected": people,
                "records_received": s["records_received"],
                "fields": fields,
                "first_seen": s["first_seen"],
                "last_seen": s["last_seen"],
            },
            "to_complete": [
                _todo("subject_categories",
                      "Categories of data subjects (e.g. customers, sellers, minors?)"),
                _todo("countries", "Countries of residence of the people affected"),
                _todo("special_categories", "Whether special categories of data (Art. 9) "
                                            "or children's data are involved"),
            ],
        },
        {
            "id": "consequences",
            "heading": "Likely consequences",
            "question": "What could happen to the people affected?",
            "answer": (
                "Bulk-collected profiles are typically resold or combined with other data sets. "
                + (f"For the data taken here: {'; '.join(harms)}." if harms else
                   "Assess from the categories of data above.")
            ),
            "to_complete": [
                _todo("risk_assessment",
                      "The platform's assessment of the risk to people's rights and freedoms"),
                _todo("inform_subjects",
                      "Whether the people affected will be informed (Art. 34), how and when"),
            ],
        },
        {
            "id": "measures",
            "heading": "Measures taken or proposed",
            "question": "What has been done, and what will be?",
            "answer": (
                f"The actors and their keys are identified in this report. Had scrapeguard's "
                f"rules been enforced, the first action would have come at "
                f"{when(s['first_action'])} and "
                f"{plural(s['people_preventable'], 'person', 'people')}'s records would have "
                f"been protected. Proposed: block the listed actors, enforce the policy live on "
                f"the personal-data routes, and list the people affected with "
                f"`scrapeguard report affected` to inform them."
            ),
            "to_complete": [
                _todo("measures_taken", "Measures already taken, with dates"),
                _todo("mitigation", "Measures to mitigate possible adverse effects for people"),
            ],
        },
        {
            "id": "timing",
            "heading": "Timing",
            "question": "When did it happen and when did the platform become aware?",
            "answer": (
                f"Harvesting seen from {when(s['first_seen'])} to {when(s['last_seen'])}."
            ),
            "to_complete": [
                _todo("aware_at", "When the platform became aware of the breach (date, time)"),
                _todo("delay_reason", "If notifying after 72 hours: the reasons for the delay"),
            ],
        },
        {
            "id": "contact",
            "heading": "Contact point",
            "question": "Who can the authority contact for more information?",
            "answer": "",
            "to_complete": [
                _todo("dpo", "Name and contact details of the data protection officer or "
                             "other contact point"),
            ],
        },
    ]
    return {"title": "Draft personal data breach notification", "not_legal_advice": True,
            "disclaimer": DISCLAIMER,
            "basis": "Sections follow GDPR Art. 33(3) and the timing asked by Art. 33(1).",
            "sections": sections}
