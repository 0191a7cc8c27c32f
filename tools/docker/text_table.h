// File: tools/docker/text_table.h
//
// Left-aligned columns separated by two spaces, as `docker ps` prints them.
// The last column is not padded.
#ifndef DMKIT_TOOLS_DOCKER_TEXT_TABLE_H_
#define DMKIT_TOOLS_DOCKER_TEXT_TABLE_H_

#include <string>
#include <vector>

namespace dmkit::docker {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) {
    rows_.push_back(std::move(header));
  }
  void Row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  std::string Render() const {
    std::vector<size_t> width;
    for (const auto& row : rows_) {
      if (width.size() < row.size()) width.resize(row.size(), 0);
      for (size_t i = 0; i < row.size(); ++i) {
        if (row[i].size() > width[i]) width[i] = row[i].size();
      }
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line;
      out += '\n';
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace dmkit::docker

#endif  // DMKIT_TOOLS_DOCKER_TEXT_TABLE_H_
