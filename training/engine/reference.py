"""The built-in algorithms' reference in Markdown, as ``docs/training.md`` carries it:
``python -m training.engine.reference`` prints it (a test keeps the page in step)."""

from __future__ import annotations

from training.engine.algorithms import algorithms


def _default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return f"{value}"


def _range(hp: dict[str, object]) -> str:
    if "choices" in hp:
        return " · ".join(f"`{c}`" for c in hp["choices"])  # type: ignore[attr-defined]
    parts = []
    if "above" in hp:
        parts.append(f"> {hp['above']}")
    if "minimum" in hp:
        parts.append(f"≥ {hp['minimum']}")
    if "maximum" in hp:
        parts.append(f"≤ {hp['maximum']}")
    return ", ".join(parts)


def markdown() -> str:
    out = []
    for algo in algorithms():
        described = algo.to_dict()
        problems = ", ".join(p.replace("_", " ") for p in algo.problems)
        out.append(f"### `{algo.name}` — {algo.title}\n")
        out.append(f"{algo.description} Problem types: {problems}.\n")
        out.append("| hyperparameter | type | default | range | what it does |")
        out.append("|---|---|---|---|---|")
        for hp in described["hyperparameters"]:
            out.append(
                f"| `{hp['name']}` | {hp['type']} | {_default(hp['default'])} | "
                f"{_range(hp)} | {hp['help']} |"
            )
        out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
