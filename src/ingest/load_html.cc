// HTML via gumbo: visible text only (script, style, nav, header, footer, aside,
// form, noscript, template, svg dropped); block elements break paragraphs;
// h1..h6 start sections with a heading path.
#include <gumbo.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <memory>
#include <vector>

#include "ingest/loader.h"

namespace quarry {
namespace {

struct Walker {
  LoadedDocument* doc;
  std::vector<std::string> path;
  Section cur{0, 0, ""};

  static bool Skipped(GumboTag t) {
    switch (t) {
      case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE: case GUMBO_TAG_NAV: case GUMBO_TAG_HEADER: case GUMBO_TAG_FOOTER:
      case GUMBO_TAG_ASIDE: case GUMBO_TAG_FORM: case GUMBO_TAG_NOSCRIPT: case GUMBO_TAG_TEMPLATE: case GUMBO_TAG_SVG:
      case GUMBO_TAG_IFRAME: case GUMBO_TAG_BUTTON: case GUMBO_TAG_SELECT: case GUMBO_TAG_HEAD:
        return true;
      default:
        return false;
    }
  }
  static bool Block(GumboTag t) {
    switch (t) {
      case GUMBO_TAG_P: case GUMBO_TAG_DIV: case GUMBO_TAG_LI: case GUMBO_TAG_UL: case GUMBO_TAG_OL: case GUMBO_TAG_TABLE:
      case GUMBO_TAG_TR: case GUMBO_TAG_BR: case GUMBO_TAG_BLOCKQUOTE: case GUMBO_TAG_PRE: case GUMBO_TAG_SECTION:
      case GUMBO_TAG_ARTICLE: case GUMBO_TAG_MAIN: case GUMBO_TAG_H1: case GUMBO_TAG_H2: case GUMBO_TAG_H3: case GUMBO_TAG_H4:
      case GUMBO_TAG_H5: case GUMBO_TAG_H6: case GUMBO_TAG_DL: case GUMBO_TAG_DT: case GUMBO_TAG_DD: case GUMBO_TAG_HR:
      case GUMBO_TAG_FIGCAPTION:
        return true;
      default:
        return false;
    }
  }
  static int HeadingLevel(GumboTag t) {
    switch (t) {
      case GUMBO_TAG_H1: return 1; case GUMBO_TAG_H2: return 2; case GUMBO_TAG_H3: return 3;
      case GUMBO_TAG_H4: return 4; case GUMBO_TAG_H5: return 5; case GUMBO_TAG_H6: return 6;
      default: return 0;
    }
  }
  // Visible text under n, in document order (an explicit stack: no recursion
  // however deep the tree).
  static void TextOf(const GumboNode* root, std::string* out) {
    std::vector<const GumboNode*> stack = {root};
    while (!stack.empty()) {
      const GumboNode* n = stack.back();
      stack.pop_back();
      if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA) {
        out->append(n->v.text.text);
      } else if (n->type == GUMBO_NODE_ELEMENT && !Skipped(n->v.element.tag)) {
        const GumboVector& c = n->v.element.children;
        for (unsigned i = c.length; i-- > 0;) stack.push_back(static_cast<const GumboNode*>(c.data[i]));
      }
    }
  }
  void Break() {
    std::string& t = doc->text;
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
    if (!t.empty() && t.back() != '\n') t += "\n\n";
  }
  void AppendText(std::string_view s) {
    // Collapse runs of whitespace, as a browser renders them.
    std::string& t = doc->text;
    for (char c : s) {
      const bool ws = c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f';
      if (ws) {
        if (!t.empty() && t.back() != ' ' && t.back() != '\n') t += ' ';
      } else {
        t += c;
      }
    }
  }
  // Depth-first over the tree with an explicit stack; a block element breaks
  // the paragraph when it opens and again when it closes.
  void Walk(const GumboNode* root) {
    struct Frame {
      const GumboNode* node;
      unsigned next = 0;  // next child to visit
    };
    std::vector<Frame> stack;
    if (Enter(root)) stack.push_back({root});
    while (!stack.empty()) {
      Frame& f = stack.back();
      const GumboNode* n = f.node;
      const GumboVector& children = n->type == GUMBO_NODE_DOCUMENT ? n->v.document.children : n->v.element.children;
      if (f.next < children.length) {
        const GumboNode* child = static_cast<const GumboNode*>(children.data[f.next++]);
        if (Enter(child)) stack.push_back({child});  // invalidates f
        continue;
      }
      if (n->type == GUMBO_NODE_ELEMENT && Block(n->v.element.tag)) Break();
      stack.pop_back();
    }
  }

  // Handles n on the way down; true when its children are to be visited.
  bool Enter(const GumboNode* n) {
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_CDATA || n->type == GUMBO_NODE_WHITESPACE) {
      AppendText(n->v.text.text);
      return false;
    }
    if (n->type == GUMBO_NODE_DOCUMENT) return true;
    if (n->type != GUMBO_NODE_ELEMENT) return false;
    const GumboTag tag = n->v.element.tag;
    if (tag == GUMBO_TAG_TITLE) {
      if (doc->title.empty()) {
        std::string t;
        TextOf(n, &t);
        size_t a = t.find_first_not_of(" \n\t"), b = t.find_last_not_of(" \n\t");
        if (a != std::string::npos) doc->title = t.substr(a, b - a + 1);
      }
      return false;
    }
    if (Skipped(tag)) return false;
    if (int level = HeadingLevel(tag)) {
      Break();
      cur.end = doc->text.size();
      if (cur.end > cur.start) doc->sections.push_back(cur);
      std::string h;
      TextOf(n, &h);
      std::string clean;
      for (char c : h) clean += (c == '\n' || c == '\t') ? ' ' : c;
      size_t a = clean.find_first_not_of(' '), b = clean.find_last_not_of(' ');
      clean = a == std::string::npos ? std::string() : clean.substr(a, b - a + 1);
      path.resize(static_cast<size_t>(level));
      path[static_cast<size_t>(level) - 1] = clean;
      std::string joined;
      for (const auto& p : path) {
        if (!p.empty()) joined += (joined.empty() ? "" : " > ") + p;
      }
      cur = Section{doc->text.size(), 0, joined};
    } else if (Block(tag)) {
      Break();
    }
    return true;
  }
};

}  // namespace

// Deepest element nesting the markup asks for, from its tags alone (void
// elements and self-closing tags do not nest). Cheap, and run before gumbo,
// whose tree (and memory) grows far faster than the file with depth.
//
// With piece_bytes > 0 it also finds where a large page can be cut into pieces
// that gumbo parses one at a time (its tree takes ~400 bytes an element, far
// more than the page): after a block's closing tag, at least piece_bytes after
// the last cut, shallow in the tree, and outside any element whose text is
// dropped or whose structure spans the cut (tables, pre, head, nav, ...).
struct TagCounts {
  size_t deepest = 0;
  size_t elements = 0;
  std::vector<size_t> cuts;  // piece ends, ascending (the last piece ends at the page's end)
};
bool Unsplittable(const std::string& name) {
  static const char* kNames[] = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "template", "svg",
                                 "iframe", "button", "select", "head", "table", "pre", "title", "textarea", "math", "dl"};
  return std::any_of(std::begin(kNames), std::end(kNames), [&](const char* n) { return name == n; });
}
bool CutAfter(const std::string& name) {
  static const char* kNames[] = {"p", "div", "li", "ul", "ol", "section", "article", "main", "blockquote", "figure",
                                 "h1", "h2", "h3", "h4", "h5", "h6", "dd", "dt"};
  return std::any_of(std::begin(kNames), std::end(kNames), [&](const char* n) { return name == n; });
}
TagCounts CountTags(std::string_view html, size_t piece_bytes = 0) {
  TagCounts out;
  const bool cut = piece_bytes > 0 && html.size() > piece_bytes;
  std::vector<std::string> open;  // element names, when cutting
  size_t last_cut = 0;
  static const char* kVoid[] = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                                "source", "track", "wbr", "!", "?"};
  size_t depth = 0, deepest = 0, elements = 0;
  for (size_t i = html.find('<'); i != std::string_view::npos && i + 1 < html.size(); i = html.find('<', i + 1)) {
    const bool closing = html[i + 1] == '/';
    size_t a = i + (closing ? 2 : 1), b = a;
    while (b < html.size() && (std::isalnum(static_cast<unsigned char>(html[b])) || html[b] == '!' || html[b] == '?')) ++b;
    if (b == a) continue;
    std::string name(html.substr(a, b - a));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool is_void = false;
    for (const char* v : kVoid) is_void = is_void || name == v || (v[0] == '!' && name[0] == '!') || (v[0] == '?' && name[0] == '?');
    const size_t close = html.find('>', b);
    if (close == std::string_view::npos) break;
    if (is_void || html[close - 1] == '/') continue;
    if (!closing && (name == "script" || name == "style")) {
      // Raw text: its '<' are not tags. Resume at the closing tag.
      size_t end = close;
      for (size_t at = close; (at = html.find("</", at)) != std::string_view::npos; at += 2) {
        std::string next(html.substr(at + 2, name.size()));
        for (char& c : next) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (next == name) {
          end = at;
          break;
        }
      }
      i = end == close ? html.size() : end + 1;  // unterminated: the rest is script
      continue;
    }
    if (closing) {
      depth -= depth > 0 ? 1 : 0;
    } else {
      deepest = std::max(deepest, ++depth);
      ++elements;
    }
    if (!cut) continue;
    if (!closing) {
      open.push_back(name);
      continue;
    }
    // A closing tag closes its element and whatever was left open inside it.
    const auto it = std::find(open.rbegin(), open.rend(), name);
    if (it == open.rend()) continue;  // closes nothing open: ignored, as a parser would
    open.erase(std::prev(it.base()), open.end());
    if (close + 1 - last_cut >= piece_bytes && close + 1 < html.size() && CutAfter(name) && open.size() <= 8 &&
        std::none_of(open.begin(), open.end(), Unsplittable)) {
      out.cuts.push_back(close + 1);
      last_cut = close + 1;
    }
  }
  out.deepest = deepest;
  out.elements = elements;
  return out;
}

// Gumbo's defaults, but parse errors are not kept: nothing reads them, and a
// malformed page can have one per tag.
const GumboOptions kParseOptions = [] {
  GumboOptions o = kGumboDefaultOptions;
  o.max_errors = 0;
  return o;
}();

Status ExtractHtml(std::string_view html, LoadedDocument* doc, const LoadOptions& options) {
  const TagCounts tags = CountTags(html);
  if (tags.deepest > options.max_html_depth) {
    return Status::InvalidArgument(doc->source + ": HTML nests elements " + std::to_string(tags.deepest) + " deep, over the limit of " +
                                   std::to_string(options.max_html_depth) +
                                   " (a real page stays far below it; raise the limit if this one is genuine)")
        .About("max_html_depth");
  }
  if (tags.elements > options.max_html_nodes) {
    return Status::InvalidArgument(doc->source + ": HTML has " + std::to_string(tags.elements) + " elements, over the limit of " +
                                   std::to_string(options.max_html_nodes) +
                                   " (parsing takes ~400 bytes of memory per element; raise the limit if this page is genuine)")
        .About("max_html_nodes");
  }
  // A large page is parsed a piece at a time: one tree in memory, never the whole page's.
  std::vector<size_t> ends = CountTags(html, options.html_piece_bytes).cuts;
  ends.push_back(html.size());
  // The text is shorter than the markup: one allocation instead of growing by
  // doubling (which held the old and the new buffer, 1.5-2x the text, at once).
  doc->text.reserve(doc->text.size() + html.size() + html.size() / 16);
  Walker w{doc, {}, {}};
  size_t from = 0;
  for (const size_t to : ends) {
    const std::string_view piece = html.substr(from, to - from);
    std::unique_ptr<GumboOutput, void (*)(GumboOutput*)> out(
        gumbo_parse_with_options(&kParseOptions, piece.data(), piece.size()),
        [](GumboOutput* o) { gumbo_destroy_output(&kParseOptions, o); });
    if (!out) return Status::Corruption(doc->source + ": HTML could not be parsed");
    if (from == 0) {
      // <title> lives in <head>, which Walk skips: read it first.
      std::vector<const GumboNode*> stack = {out->root};
      while (!stack.empty() && doc->title.empty()) {
        const GumboNode* n = stack.back();
        stack.pop_back();
        if (n->type != GUMBO_NODE_ELEMENT) continue;
        if (n->v.element.tag == GUMBO_TAG_TITLE) {
          std::string t;
          Walker::TextOf(n, &t);
          size_t a = t.find_first_not_of(" \n\t"), b = t.find_last_not_of(" \n\t");
          if (a != std::string::npos) doc->title = t.substr(a, b - a + 1);
        }
        const GumboVector& c = n->v.element.children;
        for (unsigned i = 0; i < c.length; ++i) stack.push_back(static_cast<const GumboNode*>(c.data[i]));
      }
    }
    w.Walk(out->document);
    from = to;
  }
  w.cur.end = doc->text.size();
  if (w.cur.end > w.cur.start) doc->sections.push_back(w.cur);
  return Status::OK();
}

}  // namespace quarry
