"""The customer-facing privacy notice, rendered from the policy file that is enforced.

Each sentence is generated from a rule: which categories are kept, for which purposes they are
used (from the grants), what is forbidden, when a third party can get them, how long they are
kept. Change the policy and the notice changes with it.
"""

from __future__ import annotations

import html

from cpniguard.policy.model import Policy

RETENTION_LABELS = {
    "interactions": "records of interactions with our staff",
    "audit_trail": "records of staff access to your information",
    "disclosure_log": "records of every disclosure made in answer to legal process",
    "closed_accounts": "records of closed accounts",
    "radius_accounting": "connection session logs",
    "dhcp_leases": "network address assignment logs",
    "cgnat_port_blocks": "shared-address (CGNAT) port logs",
}


def notice_sections(policy: Policy) -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) in reading order; both renderers use this."""
    org = policy.organization
    kept = [c for c in policy.categories.values() if c.cpni]
    uses: dict[str, set[str]] = {}
    for grant in policy.grants:
        purpose = policy.purposes[grant.purpose]
        if purpose.third_party:
            continue
        for category in grant.categories:
            uses.setdefault(category, set()).add(purpose.id)
    allowed = [p for p in policy.purposes.values() if not p.forbidden and not p.third_party]
    third = [p for p in policy.purposes.values() if p.third_party]
    forbidden = [p for p in policy.purposes.values() if p.forbidden]
    sections: list[tuple[str, list[str]]] = [
        ("What we keep", [
            f"{org.legal_name} keeps the following information about its customers. All of it "
            "is customer proprietary network information (CPNI) and is kept private:",
            *[f"- {c.label}: {c.notice}." for c in kept],
        ]),
        ("How we use it", [
            "We use it only " + "; ".join(p.notice for p in allowed) + ".",
            *[f"- {policy.categories[c].label} is used"
              + " for " + ", ".join(sorted(policy.purposes[p].label.lower() for p in uses[c])) + "."
              for c in (k.id for k in kept) if c in uses],
            "Every access by our staff must state one of these purposes, is checked against "
            "this policy, and is recorded in a tamper-evident log.",
        ]),
        ("Technical logs", [
            f"We keep {policy.categories['connectivity_logs'].notice}. "
            f"Our technical staff use {policy.categories['service_quality'].notice}; this data "
            "is for internal use only and is not shared outside the company.",
        ]),
        ("What we never do", [p.notice for p in forbidden]),
        ("When we disclose information to a third party", [
            "Only " + "; ".join(p.notice for p in third) + ".",
        ]),
        ("How long we keep it", [
            f"- {RETENTION_LABELS.get(name, name.replace('_', ' '))}: {days} days."
            for name, days in policy.retention.items()
        ] + [
            "After that we delete the records, no later, except records named in a legal hold "
            "that valid legal process (such as a preservation request) requires us to keep; "
            "those are kept only until the hold ends.",
        ]),
        ("Contact", [
            f"Questions about this notice: {org.privacy_contact} or {org.phone}. "
            f"Effective {org.effective}; policy version {policy.version}.",
        ]),
    ]
    return sections


def render_markdown(policy: Policy) -> str:
    lines = [f"# {policy.organization.name} privacy notice", ""]
    for heading, paragraphs in notice_sections(policy):
        lines += [f"## {heading}", ""]
        for paragraph in paragraphs:
            lines.append(paragraph)
            if not paragraph.startswith("- "):
                lines.append("")
        if lines[-1] != "":
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_html_fragment(policy: Policy) -> str:
    """The notice as an HTML fragment (escaped), for the web page and the standalone file."""
    out: list[str] = []
    for heading, paragraphs in notice_sections(policy):
        out.append(f"<h2>{html.escape(heading)}</h2>")
        items = [p[2:] for p in paragraphs if p.startswith("- ")]
        for paragraph in paragraphs:
            if not paragraph.startswith("- "):
                out.append(f"<p>{html.escape(paragraph)}</p>")
        if items:
            out.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")
    return "\n".join(out)


def render_html(policy: Policy) -> str:
    title = html.escape(f"{policy.organization.name} privacy notice")
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n"
        f"{render_html_fragment(policy)}\n</body></html>\n"
    )
