#include "ingest/loader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"
#include "unit/fixtures.h"

namespace quarry {
namespace {

struct Loaded {
  Status status;
  std::vector<LoadedDocument> docs;
  std::vector<Status> record_errors;
};

Loaded Load(const std::string& path, LoadOptions o = {}) {
  Loaded l;
  l.status = LoadPath(path, o, [&](Result<LoadedDocument> d) {
    if (d.ok()) l.docs.push_back(std::move(*d));
    else l.record_errors.push_back(d.status());
  });
  return l;
}

std::string SectionText(const LoadedDocument& d, size_t i) {
  return d.text.substr(d.sections[i].start, d.sections[i].end - d.sections[i].start);
}

TEST(Loader, MarkdownHeadingsBecomeHeadingPaths) {
  test::TempDir d;
  test::WriteFile(d.str() + "/a.md", "Preface.\n\n# Guide\n\nIntro.\n\n## Install\n\nRun it.\n\n```\n# not a heading\n```\n\n## Use\n\nAsk.\n");
  auto l = Load(d.str() + "/a.md");
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  ASSERT_EQ(l.docs.size(), 1u);
  const auto& doc = l.docs[0];
  EXPECT_EQ(doc.title, "Guide");
  ASSERT_EQ(doc.sections.size(), 4u);
  EXPECT_EQ(doc.sections[0].heading, "");
  EXPECT_EQ(doc.sections[1].heading, "Guide");
  EXPECT_EQ(doc.sections[2].heading, "Guide > Install");
  EXPECT_NE(SectionText(doc, 2).find("# not a heading"), std::string::npos);
  EXPECT_EQ(doc.sections[3].heading, "Guide > Use");
}

TEST(Loader, HtmlKeepsContentDropsBoilerplate) {
  test::TempDir d;
  test::WriteFile(d.str() + "/p.html",
                  "<html><head><title>The Page</title><style>p{}</style><script>var x = 'SCRIPT';</script></head>"
                  "<body><nav>Home | NAVLINK</nav><h1>Top</h1><p>First &amp; best.</p><h2>Sub</h2><p>Second.</p>"
                  "<footer>FOOTER</footer></body></html>");
  auto l = Load(d.str() + "/p.html");
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  const auto& doc = l.docs.at(0);
  EXPECT_EQ(doc.title, "The Page");
  EXPECT_NE(doc.text.find("First & best."), std::string::npos);
  for (const char* junk : {"SCRIPT", "NAVLINK", "FOOTER", "p{}"}) EXPECT_EQ(doc.text.find(junk), std::string::npos) << junk;
  ASSERT_GE(doc.sections.size(), 2u);
  EXPECT_EQ(doc.sections.back().heading, "Top > Sub");
}

// Regression: 30,000 nested <div>s overflowed the stack of a recursive tree
// walk (SIGSEGV, the whole batch lost), and unclosed <div><span> pairs made
// gumbo's memory grow with the square of the depth (3.2 GB for 220 KB).
TEST(Loader, HtmlNestedTooDeepIsRefusedBeforeParsing) {
  test::TempDir d;
  std::string closed, open;
  for (int i = 0; i < 30000; ++i) closed += "<div>";
  closed += "deep";
  for (int i = 0; i < 30000; ++i) closed += "</div>";
  for (int i = 0; i < 20000; ++i) open += "<div><span>";
  test::WriteFile(d.str() + "/closed.html", closed);
  test::WriteFile(d.str() + "/open.html", open + "text");
  for (const char* f : {"/closed.html", "/open.html"}) {
    auto l = Load(d.str() + f);
    EXPECT_EQ(l.status.code(), Status::Code::kInvalidArgument) << f;
    EXPECT_NE(l.status.message().find("nests elements"), std::string::npos) << l.status.message();
    EXPECT_NE(l.status.message().find(f + 1), std::string::npos) << l.status.message();
  }
  // The limit is the user's to raise.
  LoadOptions o;
  o.max_html_depth = 40000;
  auto raised = Load(d.str() + "/closed.html", o);
  ASSERT_TRUE(raised.status.ok()) << raised.status.message();
  EXPECT_EQ(raised.docs.at(0).text.rfind("deep", 0), 0u);
}

// A large page is parsed a piece at a time (gumbo's tree is many times the
// page): the text, sections and title come out exactly as from one parse,
// and nothing is cut inside a table, a <pre> or text that is dropped.
TEST(Loader, LargeHtmlIsParsedInPiecesWithTheSameResult) {
  test::TempDir d;
  std::string page = "<html><head><title>Big page</title><style>p { color: red }</style></head><body><div id=wrap>";
  for (int i = 0; i < 300; ++i) {
    if (i % 50 == 0) page += "<h2>Part " + std::to_string(i / 50) + "</h2>";
    page += "<p>Paragraph " + std::to_string(i) + " with <b>bold</b> text &amp; more.</p>\n";
    if (i % 40 == 7) page += "<table><tr><td>cell " + std::to_string(i) + "</td><td>next</td></tr><tr><td>row two</td></tr></table>";
    if (i % 60 == 9) page += "<nav><ul><li>menu " + std::to_string(i) + "</li><li>skip me</li></ul></nav>";
    if (i % 70 == 3) page += "<ul><li>item a</li><li>item b</li></ul><pre>code  line\n  indented</pre>";
  }
  page += "</div></body></html>";
  test::WriteFile(d.str() + "/big.html", page);
  LoadOptions whole, pieces;
  whole.html_piece_bytes = 0;
  pieces.html_piece_bytes = 512;
  auto a = Load(d.str() + "/big.html", whole), b = Load(d.str() + "/big.html", pieces);
  ASSERT_TRUE(a.status.ok() && b.status.ok()) << a.status.message() << b.status.message();
  const LoadedDocument &x = a.docs.at(0), &y = b.docs.at(0);
  EXPECT_EQ(x.title, "Big page");
  EXPECT_EQ(y.title, x.title);
  EXPECT_EQ(y.text, x.text);
  ASSERT_EQ(y.sections.size(), x.sections.size());
  for (size_t i = 0; i < x.sections.size(); ++i) {
    EXPECT_EQ(y.sections[i].heading, x.sections[i].heading);
    EXPECT_EQ(y.sections[i].start, x.sections[i].start);
  }
  EXPECT_EQ(x.text.find("skip me"), std::string::npos);
  EXPECT_NE(x.text.find("cell 7"), std::string::npos);
}

TEST(Loader, HtmlDepthCountsTagsNotScriptComparisons) {
  test::TempDir d;
  std::string page = "<html><body><script>";
  for (int i = 0; i < 5000; ++i) page += "if (a<b && c<d) x = y > z;";
  page += "</script>";
  for (int i = 0; i < 900; ++i) page += "<div>";
  page += "<p>kept<br>text</p>";
  for (int i = 0; i < 900; ++i) page += "</div>";
  test::WriteFile(d.str() + "/ok.html", page + "</body></html>");
  auto l = Load(d.str() + "/ok.html");
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  EXPECT_NE(l.docs.at(0).text.find("kept"), std::string::npos);
  EXPECT_EQ(l.docs.at(0).text.find("a<b"), std::string::npos);
}

TEST(Loader, PdfPagesBecomeSections) {
  test::TempDir d;
  test::WriteFile(d.str() + "/r.pdf", test::MakePdf({"Hello from page one", "Second page text"}));
  auto l = Load(d.str() + "/r.pdf");
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  const auto& doc = l.docs.at(0);
  EXPECT_NE(doc.text.find("Hello from page one"), std::string::npos) << doc.text;
  ASSERT_EQ(doc.sections.size(), 2u);
  EXPECT_EQ(doc.sections[1].heading, "page 2");
  EXPECT_NE(SectionText(doc, 1).find("Second page text"), std::string::npos);
}

TEST(Loader, TruncatedOrFakePdfIsReported) {
  test::TempDir d;
  std::string pdf = test::MakePdf({"Some text"});
  test::WriteFile(d.str() + "/t.pdf", pdf.substr(0, 60));
  auto l = Load(d.str() + "/t.pdf");
  EXPECT_FALSE(l.status.ok());
  EXPECT_NE(l.status.message().find("t.pdf"), std::string::npos);
  test::WriteFile(d.str() + "/f.pdf", "<html>not a pdf</html>");
  auto f = Load(d.str() + "/f.pdf");
  ASSERT_FALSE(f.status.ok());
  EXPECT_NE(f.status.message().find("not a PDF (starts with '<html"), std::string::npos) << f.status.message();
}

TEST(Loader, DocxParagraphsAndHeadings) {
  test::TempDir d;
  test::WriteDocx(d.str() + "/w.docx", {{"Heading1", "Report"}, {"", "Body &amp; more."}, {"Heading2", "Details"}, {"", "Fine print."}});
  auto l = Load(d.str() + "/w.docx");
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  const auto& doc = l.docs.at(0);
  EXPECT_EQ(doc.title, "Report");
  EXPECT_NE(doc.text.find("Body & more."), std::string::npos);
  EXPECT_EQ(doc.sections.back().heading, "Report > Details");
  test::WriteFile(d.str() + "/bad.docx", "PK not really a zip");
  EXPECT_FALSE(Load(d.str() + "/bad.docx").status.ok());
}

// Regression: a 321 KB DOCX that unpacks to 90 MB was accepted although far
// over --max-file-size unpacked, and one over the old fixed cap was called
// "not a DOCX". The limit applies to the unpacked text, and says so.
TEST(Loader, DocxIsLimitedByItsUnpackedSize) {
  test::TempDir d;
  std::vector<std::pair<std::string, std::string>> paras;
  for (int i = 0; i < 2000; ++i) paras.push_back({"", std::string(600, 'a' + i % 26)});
  test::WriteDocx(d.str() + "/big.docx", paras);
  ASSERT_LT(std::filesystem::file_size(d.str() + "/big.docx"), 100u << 10);  // it compresses well
  LoadOptions o;
  o.max_file_bytes = 1 << 20;
  auto l = Load(d.str() + "/big.docx", o);
  ASSERT_EQ(l.status.code(), Status::Code::kInvalidArgument) << l.status.message();
  EXPECT_NE(l.status.message().find("big.docx"), std::string::npos) << l.status.message();
  EXPECT_NE(l.status.message().find("word/document.xml expands to 1.2 MiB, over the limit of 1.0 MiB"), std::string::npos)
      << l.status.message();
  EXPECT_EQ(l.status.option(), "max_file_bytes");
  o.max_file_bytes = 8 << 20;
  o.max_zip_ratio = 1e6;  // this text is very repetitive: the ratio limit is tested below
  EXPECT_TRUE(Load(d.str() + "/big.docx", o).status.ok());
}

// A zip bomb: text that unpacks hundreds of times its packed size is refused
// by ratio, before it is unpacked, whatever the size limit.
TEST(Loader, DocxIsLimitedByItsCompressionRatio) {
  test::TempDir d;
  std::vector<std::pair<std::string, std::string>> paras(4000, {"", std::string(1000, 'z')});
  test::WriteDocx(d.str() + "/bomb.docx", paras);
  auto l = Load(d.str() + "/bomb.docx");
  ASSERT_EQ(l.status.code(), Status::Code::kInvalidArgument) << l.status.message();
  EXPECT_NE(l.status.message().find("times its packed size, over the limit of 200"), std::string::npos) << l.status.message();
  EXPECT_EQ(l.status.option(), "max_zip_ratio");
  LoadOptions o;
  o.max_zip_ratio = 1e6;
  EXPECT_TRUE(Load(d.str() + "/bomb.docx", o).status.ok());
}

// Too many elements for the parse tree's memory: refused before parsing.
TEST(Loader, HtmlWithTooManyElementsIsRefusedBeforeParsing) {
  test::TempDir d;
  std::string page = "<html><body>";
  for (int i = 0; i < 3000; ++i) page += "<p>x</p>";
  test::WriteFile(d.str() + "/many.html", page + "</body></html>");
  LoadOptions o;
  o.max_html_nodes = 2000;
  auto l = Load(d.str() + "/many.html", o);
  ASSERT_EQ(l.status.code(), Status::Code::kInvalidArgument) << l.status.message();
  EXPECT_NE(l.status.message().find("3002 elements, over the limit of 2000"), std::string::npos) << l.status.message();
  EXPECT_EQ(l.status.option(), "max_html_nodes");
  EXPECT_TRUE(Load(d.str() + "/many.html").status.ok());
}

// An overlong record line is one bad record: the rest of the file is read.
// A CSV record that never ends (an unclosed quote) stops the file there.
TEST(Loader, OverlongRecordsAreRefusedAlone) {
  test::TempDir d;
  const std::string big(5000, 'w');
  test::WriteFile(d.str() + "/r.jsonl", "{\"_id\": 1, \"text\": \"short\"}\n{\"_id\": 2, \"text\": \"" + big +
                                            "\"}\n{\"_id\": 3, \"text\": \"after\"}\n");
  LoadOptions o;
  o.max_record_bytes = 1024;
  auto l = Load(d.str() + "/r.jsonl", o);
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  ASSERT_EQ(l.docs.size(), 2u);
  EXPECT_EQ(l.docs[1].text, "after");
  ASSERT_EQ(l.record_errors.size(), 1u);
  EXPECT_NE(l.record_errors[0].message().find("r.jsonl:2: line is longer than the record size limit of 0.0 MiB"), std::string::npos)
      << l.record_errors[0].message();
  test::WriteFile(d.str() + "/r.csv", "id,text\n1,fine\n2,\"unclosed " + big + "\n3,never read\n");
  auto c = Load(d.str() + "/r.csv", o);
  ASSERT_EQ(c.status.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(c.status.message().find("r.csv:3: record is longer than the record size limit"), std::string::npos) << c.status.message();
  EXPECT_EQ(c.status.option(), "max_record_bytes");
  ASSERT_EQ(c.docs.size(), 1u);
  EXPECT_EQ(c.docs[0].text, "fine");
}

TEST(Loader, BeirJsonlRecords) {
  test::TempDir d;
  test::WriteFile(d.str() + "/c.jsonl",
                  "{\"_id\": \"d1\", \"title\": \"Cats\", \"text\": \"Cats purr.\", \"metadata\": {\"year\": 2020}}\n"
                  "{\"_id\": 7, \"text\": \"Numeric id.\"}\n"
                  "not json\n"
                  "{\"title\": \"no id\", \"text\": \"x\"}\n"
                  "\n");
  auto l = Load(d.str() + "/c.jsonl");
  ASSERT_TRUE(l.status.ok());
  ASSERT_EQ(l.docs.size(), 2u);
  EXPECT_EQ(l.docs[0].source, d.str() + "/c.jsonl#d1");
  EXPECT_EQ(l.docs[0].text, "Cats\n\nCats purr.");
  EXPECT_EQ(nlohmann::json::parse(l.docs[0].metadata)["year"], 2020);
  EXPECT_EQ(l.docs[1].source, d.str() + "/c.jsonl#7");
  ASSERT_EQ(l.record_errors.size(), 2u);
  EXPECT_NE(l.record_errors[0].message().find("c.jsonl:3"), std::string::npos) << l.record_errors[0].message();
  EXPECT_NE(l.record_errors[1].message().find("_id"), std::string::npos);
}

TEST(Loader, CsvWithTextColumn) {
  test::TempDir d;
  test::WriteFile(d.str() + "/t.csv", "id,body,lang\n1,\"Hello, world\",en\n2,\"Line one\nline \"\"two\"\"\",fr\n");
  LoadOptions o;
  o.text_column = "body";
  auto l = Load(d.str() + "/t.csv", o);
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  ASSERT_EQ(l.docs.size(), 2u);
  EXPECT_EQ(l.docs[0].text, "Hello, world");
  EXPECT_EQ(l.docs[1].text, "Line one\nline \"two\"");
  EXPECT_EQ(nlohmann::json::parse(l.docs[1].metadata)["lang"], "fr");
  auto missing = Load(d.str() + "/t.csv");  // default column "text" is absent
  ASSERT_FALSE(missing.status.ok());
  EXPECT_EQ(missing.status.option(), "text_column") << missing.status.message();
}

// Found by fuzz_load_csv: a header that is not UTF-8 became a metadata key and
// aborted the process when the metadata was serialised.
TEST(Loader, CsvHeaderThatIsNotUtf8IsAnError) {
  test::TempDir d;
  test::WriteFile(d.str() + "/h.csv", "i\x99,text\n1,hello\n");
  auto l = Load(d.str() + "/h.csv");
  EXPECT_EQ(l.status.code(), Status::Code::kCorruption);
  EXPECT_NE(l.status.message().find("h.csv:1: the header row is not valid UTF-8"), std::string::npos) << l.status.message();
  EXPECT_TRUE(l.docs.empty());
}

TEST(Loader, BadInputIsNamedWithItsReason) {
  test::TempDir d;
  test::WriteFile(d.str() + "/bin.txt", std::string("ELF\0\0\x01\x02", 7));
  test::WriteFile(d.str() + "/latin1.txt", "caf\xe9 au lait");
  test::WriteFile(d.str() + "/empty.txt", "  \n\n ");
  // Regression: UTF-16 text was called "binary". With and without a byte-order mark.
  auto utf16le = [](const std::string& ascii) {
    std::string out;
    for (char c : ascii) out += std::string(1, c) + std::string(1, '\0');
    return out;
  };
  test::WriteFile(d.str() + "/bom16.txt", "\xFF\xFE" + utf16le("Hello, notes from Windows."));
  test::WriteFile(d.str() + "/le16.txt", utf16le("Plain UTF-16LE without a mark, as some tools write it."));
  struct Case {
    const char* file;
    const char* reason;
  } cases[] = {{"bin.txt", "binary"},
               {"latin1.txt", "invalid UTF-8 at byte 3"},
               {"empty.txt", "empty"},
               {"bom16.txt", "UTF-16 text; convert it to UTF-8 first (iconv -f UTF-16 -t UTF-8)"},
               {"le16.txt", "UTF-16LE text"}};
  for (const auto& c : cases) {
    auto l = Load(d.str() + "/" + c.file);
    ASSERT_FALSE(l.status.ok()) << c.file;
    EXPECT_NE(l.status.message().find(c.file), std::string::npos) << l.status.message();
    EXPECT_NE(l.status.message().find(c.reason), std::string::npos) << l.status.message();
    EXPECT_TRUE(l.docs.empty());
  }
}

TEST(Loader, LargeFilesAreRefusedUnreadButRecordFilesStream) {
  test::TempDir d;
  std::string big(3 << 20, 'a');
  for (size_t i = 80; i < big.size(); i += 81) big[i] = '\n';
  test::WriteFile(d.str() + "/big.txt", big);
  LoadOptions o;
  o.max_file_bytes = 1 << 20;
  auto l = Load(d.str() + "/big.txt", o);
  ASSERT_FALSE(l.status.ok());
  EXPECT_EQ(l.status.option(), "max_file_bytes");
  std::string jsonl;
  for (int i = 0; jsonl.size() < (3u << 20); ++i) jsonl += "{\"_id\": \"" + std::to_string(i) + "\", \"text\": \"" + std::string(200, 'x') + "\"}\n";
  test::WriteFile(d.str() + "/big.jsonl", jsonl);
  auto r = Load(d.str() + "/big.jsonl", o);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_GT(r.docs.size(), 10000u);
}

TEST(Loader, MetadataOptionIsMergedAndHashed) {
  test::TempDir d;
  test::WriteFile(d.str() + "/a.txt", "Some text.");
  LoadOptions o;
  o.metadata = R"({"team": "search"})";
  auto a = Load(d.str() + "/a.txt", o), b = Load(d.str() + "/a.txt");
  EXPECT_EQ(nlohmann::json::parse(a.docs.at(0).metadata)["team"], "search");
  EXPECT_NE(a.docs.at(0).content_hash, b.docs.at(0).content_hash);
}

}  // namespace
}  // namespace quarry
