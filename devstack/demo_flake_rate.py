"""`make demo` summary for flake_rate_refresh: the published `Flake rate` tab, read back.

Reads the devstack spreadsheet from the Sheets stand-in as a person would see it (formatted
cells), so the line printed is evidence of what the dashboard shows, not the DAG's own claim.
Register it as `SUMMARIES["flake_rate_refresh"] = demo_flake_rate.summary`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from devstack import sheets
from devstack.bigquery import CAMPAIGN_TZ

TAB = "Flake rate"
# The tab must have been written by the run the demo just made, not left from an earlier one.
FRESH = timedelta(minutes=30)
COLUMNS = ["Region", "Week_Start", "Current_Week", "Completed", "No_Show", "Cancelled",
           "Declined", "Scheduled", "Total", "Total_Flakes", "Flake_Rate"]


def read_tab(spreadsheet_id: str = sheets.DEMO_SPREADSHEET_ID, tab: str = TAB) -> list[list[str]]:
    """The tab's formatted values (the stand-in of this devstack, port offset included)."""
    state = sheets.admin("GET", f"spreadsheets/{spreadsheet_id}", base_url=sheets.SERVICE.url)
    for sheet in state["sheets"]:
        if sheet["properties"]["title"] == tab:
            return sheet["values"]
    raise RuntimeError(f"spreadsheet {spreadsheet_id!r} has no {tab!r} tab: nothing published")


def _table(header: list[str], rows: list[list[str]]) -> str:
    index = [header.index(c) for c in COLUMNS]
    cells = [[COLUMNS[k] for k in range(len(COLUMNS))]]
    cells += [[row[i] if i < len(row) else "" for i in index] for row in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(COLUMNS))]
    lines = []
    for number, row in enumerate(cells):
        lines.append("  ".join(v.ljust(w) if k < 2 else v.rjust(w)
                               for k, (v, w) in enumerate(zip(row, widths, strict=True))))
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary(spreadsheet_id: str = sheets.DEMO_SPREADSHEET_ID) -> str:
    """Key figures of the published tab, then the tab itself as text."""
    values = read_tab(spreadsheet_id)
    if len(values) < 2:
        raise RuntimeError(f"the {TAB!r} tab has no rows")
    header = values[0]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise RuntimeError(f"the {TAB!r} tab lacks column(s) {', '.join(missing)}")
    rows = [row for row in values[1:] if row and row[header.index("Region")].strip()]
    col = {name: header.index(name) for name in COLUMNS}
    stamp = next((cell for cell in header if cell.startswith("Last refreshed")), "no stamp")
    match = re.match(r"Last refreshed (\d{4}-\d\d-\d\d \d\d:\d\d)", stamp)
    if not match:
        raise RuntimeError(f"the {TAB!r} tab has no 'Last refreshed' cell")
    when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=CAMPAIGN_TZ)
    if datetime.now(CAMPAIGN_TZ) - when > FRESH:
        raise RuntimeError(f"the {TAB!r} tab was not refreshed by this run ({stamp}): a quality "
                           "gate failed and the operators were e-mailed why (see the log)")

    def total(name: str, subset: list[list[str]]) -> int:
        return sum(int(r[col[name]] or 0) for r in subset)

    closed = [r for r in rows if r[col["Current_Week"]] != "TRUE"]
    current = [r for r in rows if r[col["Current_Week"]] == "TRUE"]
    flakes, signups = total("Total_Flakes", closed), total("Total", closed)
    weeks = sorted({r[col["Week_Start"]] for r in rows})
    regions = {r[col["Region"]] for r in rows}
    rate = f"{flakes / signups:.1%}" if signups else "n/a"
    figures = (
        f"{len(rows)} region-weeks ({len(regions)} regions, weeks of {weeks[0]} to {weeks[-1]}) "
        f"in '{TAB}'; closed weeks flake rate {rate} ({flakes:,} of {signups:,}); this week "
        f"{total('Total', current)} closed out, {total('Scheduled', current)} still scheduled; "
        f"{stamp}"
    )
    return f"{figures}\n{_table(header, rows)}"


if __name__ == "__main__":
    print(summary())
