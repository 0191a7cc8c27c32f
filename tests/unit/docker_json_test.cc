// The bounded JSON reader and writer used for Docker's files.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/common/json_writer.h"
#include "tools/docker/json.h"

namespace dmkit::json {
namespace {

using ::testing::HasSubstr;

TEST(JsonTest, ParsesDockerDeviceMetadata) {
  auto doc =
      Parse(R"({"device_id":34709,"size":10737418240,"transaction_id":844170,)"
            R"("initialized":false,"deleted":false})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_TRUE(doc->is_object());
  EXPECT_EQ(*GetUint64(*doc, "device_id"), 34709u);
  EXPECT_EQ(*GetUint64(*doc, "size"), 10737418240u);
  EXPECT_EQ(*GetBool(*doc, "deleted"), false);
  EXPECT_EQ(doc->members().size(), 5u);
}

TEST(JsonTest, ScalarsAndNesting) {
  auto doc = Parse(" [ null , true, false, -12, 0, 1.5e3, \"x\", [], {} ] \n");
  ASSERT_TRUE(doc.ok()) << doc.status();
  const auto& items = doc->items();
  ASSERT_EQ(items.size(), 9u);
  EXPECT_TRUE(items[0].is_null());
  EXPECT_EQ(*items[1].AsBool(), true);
  EXPECT_EQ(*items[3].AsInt64(), -12);
  EXPECT_FALSE(items[3].AsUint64().ok());
  EXPECT_EQ(*items[4].AsUint64(), 0u);
  EXPECT_EQ(items[5].number_text(), "1.5e3");
  EXPECT_FALSE(items[5].AsUint64().ok());  // not an integer
  EXPECT_EQ(*items[6].AsString(), "x");
  EXPECT_TRUE(items[7].is_array());
  EXPECT_TRUE(items[8].is_object());
}

TEST(JsonTest, Uint64Extremes) {
  EXPECT_EQ(*Parse("18446744073709551615")->AsUint64(), UINT64_MAX);
  auto over = Parse("18446744073709551616")->AsUint64();
  EXPECT_FALSE(over.ok());
  EXPECT_THAT(over.status().message(), HasSubstr("18446744073709551616"));
  EXPECT_EQ(*Parse("-9223372036854775808")->AsInt64(), INT64_MIN);
}

TEST(JsonTest, StringEscapes) {
  auto doc = Parse(R"("a\"b\\c\/d\b\f\n\r\t\u00e9\u20ac\ud83d\ude00")");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(*doc->AsString(),
            "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  // Raw UTF-8 passes through.
  EXPECT_EQ(*Parse("\"caf\xc3\xa9\"")->AsString(), "caf\xc3\xa9");
}

TEST(JsonTest, DuplicateKeysLastWinsLikeGo) {
  auto doc = Parse(R"({"Name":"/a","Name":"/b"})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(*GetString(*doc, "Name"), "/b");
}

TEST(JsonTest, MalformedInputNamesLineAndColumn) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"", "unexpected end of input"},
      {"{", "unexpected end of input"},
      {"{\"a\":1,}", "expected a string (object key)"},
      {"{\"a\" 1}", "expected ':'"},
      {"[1 2]", "expected ',' or ']'"},
      {"{\"a\":1 \"b\":2}", "expected ',' or '}'"},
      {"01", "leading zeros"},
      {"-", "expected a digit"},
      {"1.", "digit after '.'"},
      {"1e", "digit in the exponent"},
      {"tru", "expected 'true'"},
      {"nul", "expected 'null'"},
      {"\"abc", "end of input in a string"},
      {"\"a\nb\"", "control character"},
      {"\"\\x\"", "escape character"},
      {"\"\\u12\"", "hex digit"},
      {"\"\\ud800\"", "unpaired surrogate"},
      {"\"\\udc00\"", "unpaired surrogate"},
      {"\"\\ud800\\u0041\"", "unpaired surrogate"},
      {"\"\xff\"", "invalid UTF-8"},
      {"\"\xc0\xaf\"", "invalid UTF-8"},          // overlong '/'
      {"\"\xed\xa0\x80\"", "invalid UTF-8"},      // encoded surrogate
      {"\"\xf4\x90\x80\x80\"", "invalid UTF-8"},  // above U+10FFFF
      {"\xef\xbb\xbf{}", "byte 0xef"},            // BOM, rejected like Go
      {"{} {}", "unexpected text after"},
      {"[1,2,", "unexpected end of input"},
  };
  for (const Case& c : cases) {
    auto doc = Parse(c.text);
    ASSERT_FALSE(doc.ok()) << c.text;
    EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(doc.status().message(), HasSubstr(c.message)) << c.text;
    EXPECT_THAT(doc.status().message(), HasSubstr("json: line ")) << c.text;
  }
  auto doc = Parse("{\n  \"a\": 1,\n  \"b\": x\n}");
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(doc.status().message(), HasSubstr("line 3 column 8"));
}

TEST(JsonTest, LimitsBoundDepthSizeAndCount) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto d = Parse(deep);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("nesting deeper than 64"));
  EXPECT_TRUE(Parse(deep, {.max_depth = 100}).ok());

  EXPECT_FALSE(Parse("[1,2,3]", {.max_input_bytes = 4}).ok());
  auto many = Parse("[1,2,3,4]", {.max_values = 3});
  ASSERT_FALSE(many.ok());
  EXPECT_THAT(many.status().message(), HasSubstr("more than 3 values"));
}

TEST(JsonTest, FieldHelpersNameTheKey) {
  auto doc = Parse(R"({"device_id":"34709","deleted":1})");
  ASSERT_TRUE(doc.ok());
  auto id = GetUint64(*doc, "device_id");
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(id.status().message(),
              HasSubstr("\"device_id\": expected number, found string"));
  EXPECT_EQ(GetUint64(*doc, "size").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(GetBool(*doc, "deleted").ok());
  EXPECT_FALSE(GetString(*Parse("[]"), "x").ok());
}

TEST(JsonWriterTest, RoundTripsThroughTheReader) {
  Writer w;
  w.BeginObject();
  w.Key("id").String("f34cee76e36a");
  w.Key("quote\"\\\n\x01").String("caf\xc3\xa9 \xff");
  w.Key("n").Uint(UINT64_MAX);
  w.Key("neg").Int(-5);
  w.Key("list").BeginArray().Bool(true).Null().BeginObject().EndObject();
  w.EndArray();
  w.EndObject();
  std::string text = w.Take();
  EXPECT_EQ(text.back(), '\n');
  auto doc = Parse(text);
  ASSERT_TRUE(doc.ok()) << doc.status() << "\n" << text;
  EXPECT_EQ(*GetString(*doc, "id"), "f34cee76e36a");
  // The stray byte comes back as the code point of its value (U+00FF).
  EXPECT_EQ(*GetString(*doc, "quote\"\\\n\x01"), "caf\xc3\xa9 \xc3\xbf");
  EXPECT_EQ(*GetUint64(*doc, "n"), UINT64_MAX);
  EXPECT_EQ(*GetInt64(*doc, "neg"), -5);
  EXPECT_EQ(doc->Find("list")->items().size(), 3u);
}

}  // namespace
}  // namespace dmkit::json
