"""The SVG charts are drawn from the numbers they are given, with every label escaped."""

import xml.etree.ElementTree as ET

from gluta_admin import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_nice_ticks_cover_the_maximum_with_round_steps():
    assert charts.nice_ticks(0) == [0.0, 1.0]
    assert charts.nice_ticks(95) == [0, 20, 40, 60, 80, 100]
    ticks = charts.nice_ticks(1_234_567)
    assert ticks[0] == 0 and ticks[-1] >= 1_234_567
    steps = {round(b - a, 6) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1 and len(ticks) <= 7


def test_compact_labels():
    assert charts.compact(950) == "950"
    assert charts.compact(1500) == "1.5K"
    assert charts.compact(2_000_000) == "2M"


def test_bar_heights_are_proportional_and_the_line_has_a_point_per_day():
    svg = charts.bar_line_chart(["11-01", "11-02", "11-03"], charts.Series("Revenue", [10_000, 0, 40_000]),
                                charts.Series("Units", [1, 0, 4]), title="Sales")
    root = parse(svg)
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-bar" and r.get("data-value")]
    assert [float(b.get("data-value")) for b in bars] == [10_000, 0, 40_000]
    heights = [float(b.get("height")) for b in bars]
    assert heights[1] == 0
    assert abs(heights[2] / heights[0] - 4) < 0.01
    dots = [c for c in root.iter(f"{SVG}circle") if c.get("data-value") is not None]
    assert [float(c.get("data-value")) for c in dots] == [1, 0, 4]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "11-01" in texts and "11-03" in texts  # x axis labels
    assert "0" in texts and "40K" in texts  # left axis from 0 to the top tick


def test_many_days_get_thinned_labels_but_every_bar():
    labels = [f"d{i}" for i in range(90)]
    root = parse(charts.bar_line_chart(labels, charts.Series("R", list(range(90))), title="t"))
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("data-value")]
    assert len(bars) == 90
    x_labels = [t for t in root.iter(f"{SVG}text") if "chart-tick-x" in (t.get("class") or "")]
    assert 8 <= len(x_labels) <= 16


def test_no_data_gives_a_message_instead_of_a_chart():
    html = str(charts.bar_line_chart([], charts.Series("R", []), title="t", empty_message="판매 없음"))
    assert "판매 없음" in html and "<svg" not in html


def test_labels_are_escaped():
    evil = '<script>alert("x")</script>'
    svg = str(charts.hbar_chart([(evil, 3), ("b", 1)], title=evil, value_name="Units"))
    assert "<script>" not in svg
    root = parse(svg)  # still well-formed XML
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("data-label")]
    assert bars[0].get("data-label") == evil
    assert float(bars[0].get("width")) > float(bars[1].get("width")) * 2.5


def test_filled_bars_show_claimed_of_quantity():
    root = parse(charts.filled_bars([("A", 25, 100), ("B", 7, None), ("C", 10, 10)], title="c",
                                    unlimited_label="무제한"))
    fills = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-fill"]
    widths = [float(f.get("width")) for f in fills]
    assert widths[2] > 0 and abs(widths[0] / widths[2] - 0.25) < 0.01
    assert widths[1] == 0  # unlimited: no share to fill
    captions = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "chart-value"]
    assert captions == ["25 / 100", "7 / 무제한", "10 / 10"]


def test_counts_get_whole_number_ticks():
    assert charts.nice_ticks(2, integer=True) == [0, 1, 2]
    assert charts.nice_ticks(2) == [0, 0.5, 1.0, 1.5, 2.0]
    root = parse(charts.hbar_chart([("a", 2), ("b", 1)], title="t", value_name="Units"))
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "chart-tick"]
    assert ticks == ["0", "1", "2"]
