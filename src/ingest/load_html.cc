// HTML via gumbo: visible text only (script, style, nav, header, footer, aside,
// form, noscript, template, svg dropped); block elements break paragraphs;
// h1..h6 start sections with a heading path.
#include <gumbo.h>

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
  static void TextOf(const GumboNode* n, std::string* out) {
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA) {
      out->append(n->v.text.text);
    } else if (n->type == GUMBO_NODE_ELEMENT && !Skipped(n->v.element.tag)) {
      const GumboVector& c = n->v.element.children;
      for (unsigned i = 0; i < c.length; ++i) TextOf(static_cast<const GumboNode*>(c.data[i]), out);
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
  void Walk(const GumboNode* n) {
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_CDATA || n->type == GUMBO_NODE_WHITESPACE) {
      AppendText(n->v.text.text);
      return;
    }
    if (n->type != GUMBO_NODE_ELEMENT && n->type != GUMBO_NODE_DOCUMENT) return;
    if (n->type == GUMBO_NODE_ELEMENT) {
      const GumboTag tag = n->v.element.tag;
      if (tag == GUMBO_TAG_TITLE) {
        if (doc->title.empty()) {
          std::string t;
          TextOf(n, &t);
          size_t a = t.find_first_not_of(" \n\t"), b = t.find_last_not_of(" \n\t");
          if (a != std::string::npos) doc->title = t.substr(a, b - a + 1);
        }
        return;
      }
      if (Skipped(tag)) return;
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
    }
    const GumboVector& children = n->type == GUMBO_NODE_DOCUMENT ? n->v.document.children : n->v.element.children;
    for (unsigned i = 0; i < children.length; ++i) Walk(static_cast<const GumboNode*>(children.data[i]));
    if (n->type == GUMBO_NODE_ELEMENT && Block(n->v.element.tag)) Break();
  }
};

}  // namespace

Status ExtractHtml(std::string_view html, LoadedDocument* doc) {
  std::unique_ptr<GumboOutput, void (*)(GumboOutput*)> out(
      gumbo_parse_with_options(&kGumboDefaultOptions, html.data(), html.size()),
      [](GumboOutput* o) { gumbo_destroy_output(&kGumboDefaultOptions, o); });
  if (!out) return Status::Corruption(doc->source + ": HTML could not be parsed");
  Walker w{doc, {}, {}};
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
  w.Walk(out->document);
  w.cur.end = doc->text.size();
  if (w.cur.end > w.cur.start) doc->sections.push_back(w.cur);
  return Status::OK();
}

}  // namespace quarry
