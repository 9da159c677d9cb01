import SondeText

/// Renders an interactive, self-contained flame graph SVG (no external scripts, fonts or styles):
/// hover shows a frame's details, click zooms into a frame, "Reset Zoom" restores, "Search" highlights
/// frames matching a regular expression and reports the share of samples they cover.
///
/// Frame widths are proportional to their sample counts (or weights): a frame of value v in a graph
/// of total T is `v / T × (width − 2 × margin)` pixels wide.
public struct FlameGraphSVG: Sendable {
  public var title = "Flame Graph"
  public var subtitle = ""
  public var width = 1200
  public var frameHeight = 16
  public var useWeight = false
  /// The unit in tooltips ("samples", or e.g. "ns" for weights).
  public var unit = "samples"
  /// Frames narrower than this many pixels (and everything above them) are left out, as flamegraph.pl's
  /// --minwidth does, so huge profiles stay small; zooming cannot reveal them.
  public var minimumWidth = 0.1

  public init(title: String = "Flame Graph", subtitle: String = "") {
    self.title = title
    self.subtitle = subtitle
  }

  /// A node of the merged stack tree.
  final class Node {
    let name: String
    var value: UInt64 = 0
    var children: [String: Node] = [:]
    init(name: String) { self.name = name }
  }

  static let margin = 10
  static let top = 60
  static let bottom = 34

  /// The SVG document.
  public func render(_ profile: ResolvedProfile) -> String {
    let root = Node(name: "all")
    for line in FoldedExporter.lines(profile, useWeight: useWeight) {
      root.value +|= line.value
      var node = root
      for part in line.stack.split(separator: ";", omittingEmptySubsequences: false) {
        let name = String(part)
        let child = node.children[name] ?? Node(name: name)
        node.children[name] = child
        child.value +|= line.value
        node = child
      }
    }
    var maxDepth = 0
    func depth(_ n: Node, _ d: Int) {
      maxDepth = max(maxDepth, d)
      for c in n.children.values { depth(c, d + 1) }
    }
    depth(root, 0)
    let height = Self.top + (maxDepth + 1) * frameHeight + Self.bottom
    let total = max(root.value, 1)
    let plotWidth = Double(width - 2 * Self.margin)

    var out = """
      <?xml version="1.0" standalone="no"?>
      <svg version="1.1" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" xmlns="http://www.w3.org/2000/svg" onload="init(evt)" data-total="\(total)" data-unit="\(xmlEscape(unit))">
      <style type="text/css">
      text { font-family: Verdana, sans-serif; font-size: 12px; fill: rgb(0,0,0); }
      #title { text-anchor: middle; font-size: 17px; }
      #subtitle { text-anchor: middle; fill: rgb(96,96,96); }
      .button { cursor: pointer; fill: rgb(30,60,160); }
      .button:hover { text-decoration: underline; }
      g.f { cursor: pointer; }
      g.f:hover rect { stroke: rgb(0,0,0); stroke-width: 0.5; }
      g.f.hide { display: none; }
      g.f.parent rect { opacity: 0.5; }
      </style>
      <script type="text/ecmascript"><![CDATA[
      \(Self.script)
      ]]></script>
      <rect x="0" y="0" width="\(width)" height="\(height)" fill="rgb(248,248,248)"/>
      <text id="title" x="\(width / 2)" y="24">\(xmlEscape(title))</text>
      <text id="subtitle" x="\(width / 2)" y="42">\(xmlEscape(subtitle))</text>
      <text id="unzoom" class="button" x="\(Self.margin)" y="24" style="display:none">Reset Zoom</text>
      <text id="search" class="button" x="\(width - Self.margin - 110)" y="24">Search</text>
      <text id="resetsearch" class="button" x="\(width - Self.margin - 60)" y="24" style="display:none">Reset</text>
      <text id="matched" x="\(width - Self.margin - 110)" y="\(height - 12)"> </text>
      <text id="details" x="\(Self.margin)" y="\(height - 12)"> </text>
      <g id="frames">

      """
    func emit(_ n: Node, x: UInt64, depth: Int) {
      let px = Double(Self.margin) + Double(x) / Double(total) * plotWidth
      let pw = Double(n.value) / Double(total) * plotWidth
      if depth > 0 && pw < minimumWidth { return }
      let y = height - Self.bottom - (depth + 1) * frameHeight
      let percent = Double(n.value) * 100 / Double(total)
      let tip = "\(n.name) (\(n.value) \(unit), \(fixed(percent, 2))%)"
      let fill = depth == 0 ? "rgb(200,200,200)" : Self.color(n.name)
      out +=
        "<g class=\"f\" data-n=\"\(xmlEscape(n.name))\" data-x=\"\(x)\" data-v=\"\(n.value)\" data-d=\"\(depth)\">"
      out += "<title>\(xmlEscape(tip))</title>"
      out += "<rect x=\"\(fixed(px, 2))\" y=\"\(y)\" width=\"\(fixed(pw, 2))\" height=\"\(frameHeight - 1)\" "
      out += "fill=\"\(fill)\" data-fill=\"\(fill)\" rx=\"2\" ry=\"2\"/>"
      out +=
        "<text x=\"\(fixed(px + 3, 2))\" y=\"\(y + frameHeight - 4)\">\(xmlEscape(Self.label(n.name, width: pw)))</text>"
      out += "</g>\n"
      var cx = x
      for child in n.children.values.sorted(by: { $0.name < $1.name }) {
        emit(child, x: cx, depth: depth + 1)
        cx +|= child.value
      }
    }
    emit(root, x: 0, depth: 0)
    out += "</g>\n</svg>\n"
    return out
  }

  /// The label that fits a frame `width` pixels wide (about 7 px per character), or "".
  static func label(_ name: String, width: Double) -> String {
    let fit = Int((width - 6) / 7)
    if fit < 3 { return "" }
    if name.count <= fit { return name }
    return String(name.prefix(fit - 2)) + ".."
  }

  /// A warm color derived from the name, stable across renders (flamegraph.pl's palette family).
  static func color(_ name: String) -> String {
    var h: UInt32 = 2_166_136_261
    for b in name.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
    let a = Double(h & 0xff) / 255
    let b = Double((h >> 8) & 0xff) / 255
    let c = Double((h >> 16) & 0xff) / 255
    return "rgb(\(205 + Int(50 * a)),\(Int(230 * b)),\(Int(55 * c)))"
  }

  /// The interactive behaviour: zoom, reset, hover details, regex search with matched percentage.
  static let script = """
    var svg, frames, details, unzoomBtn, searchBtn, resetBtn, matchedText, total, unit;
    var margin = 10, width, view = null, searchRe = null;
    function attr(g, n) { return g.getAttribute(n); }
    function init(evt) {
      svg = document.documentElement;
      width = +svg.getAttribute("width");
      total = +svg.getAttribute("data-total");
      unit = svg.getAttribute("data-unit");
      frames = Array.prototype.slice.call(document.querySelectorAll("g.f"));
      details = document.getElementById("details");
      unzoomBtn = document.getElementById("unzoom");
      searchBtn = document.getElementById("search");
      resetBtn = document.getElementById("resetsearch");
      matchedText = document.getElementById("matched");
      frames.forEach(function (g) {
        g.addEventListener("mouseover", function () { details.textContent = g.querySelector("title").textContent; });
        g.addEventListener("mouseout", function () { details.textContent = " "; });
        g.addEventListener("click", function () { zoom(g); });
      });
      unzoomBtn.addEventListener("click", unzoom);
      searchBtn.addEventListener("click", function () {
        var term = prompt("Search frames (regular expression):", searchRe ? searchRe.source : "");
        if (term !== null && term !== "") search(term);
      });
      resetBtn.addEventListener("click", resetSearch);
      window.addEventListener("keydown", function (e) {
        if ((e.ctrlKey || e.metaKey) && e.key === "f") { e.preventDefault(); searchBtn.dispatchEvent(new Event("click")); }
        if (e.key === "Escape") { unzoom(); resetSearch(); }
      });
      // Deep links: ?z=NAME zooms into the widest frame called NAME, ?s=REGEX searches.
      var params = new URLSearchParams(window.location.search);
      if (params.get("z")) {
        var best = null;
        frames.forEach(function (g) {
          if (attr(g, "data-n") === params.get("z") && (!best || +attr(g, "data-v") > +attr(best, "data-v"))) best = g;
        });
        if (best) zoom(best);
      }
      if (params.get("s")) search(params.get("s"));
    }
    function fit(name, w) {
      var n = Math.floor((w - 6) / 7);
      if (n < 3) return "";
      return name.length <= n ? name : name.substring(0, n - 2) + "..";
    }
    function place(g, x, w) {
      var r = g.querySelector("rect"), t = g.querySelector("text");
      r.setAttribute("x", x.toFixed(2));
      r.setAttribute("width", w.toFixed(2));
      t.setAttribute("x", (x + 3).toFixed(2));
      t.textContent = fit(attr(g, "data-n"), w);
    }
    function zoom(target) {
      var x0 = +attr(target, "data-x"), span = +attr(target, "data-v"), d0 = +attr(target, "data-d");
      if (span <= 0) return;
      var plot = width - 2 * margin;
      view = target;
      frames.forEach(function (g) {
        var x = +attr(g, "data-x"), v = +attr(g, "data-v"), d = +attr(g, "data-d");
        g.classList.remove("hide");
        g.classList.remove("parent");
        if (d < d0) {
          if (x <= x0 && x + v >= x0 + span) { g.classList.add("parent"); place(g, margin, plot); }
          else g.classList.add("hide");
        } else if (x >= x0 && x + v <= x0 + span && v > 0) {
          place(g, margin + (x - x0) / span * plot, v / span * plot);
        } else {
          g.classList.add("hide");
        }
      });
      unzoomBtn.style.display = "";
      if (searchRe) search(searchRe.source);
    }
    function unzoom() {
      var plot = width - 2 * margin;
      view = null;
      frames.forEach(function (g) {
        g.classList.remove("hide");
        g.classList.remove("parent");
        place(g, margin + (+attr(g, "data-x")) / total * plot, (+attr(g, "data-v")) / total * plot);
      });
      unzoomBtn.style.display = "none";
    }
    function search(term) {
      var re;
      try { re = new RegExp(term); } catch (e) { matchedText.textContent = "bad regex: " + e.message; return; }
      searchRe = re;
      var spans = [];
      frames.forEach(function (g) {
        var r = g.querySelector("rect");
        if (+attr(g, "data-d") > 0 && re.test(attr(g, "data-n"))) {
          r.setAttribute("fill", "rgb(230,0,230)");
          spans.push([+attr(g, "data-x"), +attr(g, "data-x") + (+attr(g, "data-v"))]);
        } else {
          r.setAttribute("fill", attr(r, "data-fill"));
        }
      });
      // Nested matches (recursion, or a match inside a match) must not be counted twice: merge spans.
      spans.sort(function (a, b) { return a[0] - b[0]; });
      var covered = 0, end = -1;
      spans.forEach(function (s) {
        if (s[0] >= end) { covered += s[1] - s[0]; end = s[1]; }
        else if (s[1] > end) { covered += s[1] - end; end = s[1]; }
      });
      var pct = total > 0 ? covered * 100 / total : 0;
      matchedText.textContent = "Matched: " + pct.toFixed(1) + "%";
      matchedText.setAttribute("data-matched", pct.toFixed(3));
      resetBtn.style.display = "";
    }
    function resetSearch() {
      searchRe = null;
      frames.forEach(function (g) { var r = g.querySelector("rect"); r.setAttribute("fill", attr(r, "data-fill")); });
      matchedText.textContent = " ";
      resetBtn.style.display = "none";
    }
    """
}
