"""`make demo` summary for civis_workflow_audit: the `Workflows` and `Jobs` tabs it wrote.

Register with `SUMMARIES["civis_workflow_audit"] = "devstack.demo_audit:summary"` in
devstack/demo.py, and call `prepare()` before the run so the Civis stand-in has workflows.
"""

from __future__ import annotations

from collections import Counter

from devstack import civis, sheets

SHOWN_ROWS = 5
SHOWN_COLUMNS = ("status", "workflow_id", "workflow", "owner", "schedule", "overdue",
                 "failure_streak", "last_runtime", "failing_jobs")


def prepare(workflows: int = 300) -> dict | None:
    """Seed the Civis stand-in's realistic mix unless it already holds workflows (jobs alone,
    e.g. the voterfile pipeline's, do not count)."""
    if civis.admin("GET", "/workflows"):
        return None
    return civis.seed(workflows=workflows)


def summary(spreadsheet_id: str = sheets.DEMO_SPREADSHEET_ID) -> str:
    """Key figures read back from the sheet, then the Workflows tab's first rows."""
    workflows = sheets.tab_state(spreadsheet_id, "Workflows")["values"]
    jobs = sheets.tab_state(spreadsheet_id, "Jobs")["values"]
    width = len(workflows[0])
    header = workflows[0]
    rows = [list(r) + [""] * (width - len(r)) for r in workflows[1:] if any(r[:3])]
    col = {name: header.index(name) for name in header if name}
    status = Counter(r[col["status"]] for r in rows)
    overdue = sum(r[col["overdue"]] == "yes" for r in rows)
    job_header = jobs[0]
    job_rows = [r for r in jobs[1:] if any(r[:3])]
    failing_jobs = sum(r and r[job_header.index("state")] in ("failed", "cancelled", "error")
                       for r in job_rows)
    figures = (f"{len(rows)} workflows ({status.get('failed', 0)} failed, "
               f"{status.get('error', 0)} unreadable, {status.get('running', 0)} running, "
               f"{status.get('never run', 0)} never run, {status.get('succeeded', 0)} "
               f"succeeded; {overdue} overdue), {len(job_rows)} jobs ({failing_jobs} failing)")
    shown = [[r[col[c]] if c in col else "" for c in SHOWN_COLUMNS] for r in rows[:SHOWN_ROWS]]
    widths = [min(40, max(len(str(x)) for x in [c, *[s[i] for s in shown]]))
              for i, c in enumerate(SHOWN_COLUMNS)]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(SHOWN_COLUMNS, widths, strict=True))]
    lines += ["  " + "  ".join(str(x)[:w].ljust(w) for x, w in zip(s, widths, strict=True))
              for s in shown]
    return figures + "\n" + "\n".join(lines)


if __name__ == "__main__":
    print(summary())
