#include "cli/input_files.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <utility>

#include <boost/json/value.hpp>

#include "common/json.h"

namespace hpd::cli {

StatusOr<std::string> ReadFileOrStdin(const std::string& path) {
  if (path == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (std::cin.bad()) return DataLossError("cannot read standard input");
    return text;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return DataLossError("cannot read " + path);
  return text.str();
}

StatusOr<asl::Substitutions> ReadSubstitutions(const std::string& path) {
  auto text = ReadFileOrStdin(path);
  if (!text.ok()) return text.status();
  auto doc = ParseJson(*text);
  if (!doc.ok()) return InvalidArgumentError(path + ": " + std::string(doc.status().message()));
  auto parsed = asl::SubstitutionsFromJson(*doc);
  if (!parsed.ok()) {
    return InvalidArgumentError(path + ": " + std::string(parsed.status().message()));
  }
  return std::move(parsed).value();
}

}  // namespace hpd::cli
