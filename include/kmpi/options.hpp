// Options: each declared once (key, type, default, check, description) in src/driver/options.cpp; the
// command-line parser, the INI parser, `--help` and configs/default.ini all come from that table.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace kmpi {

enum class OptionType { kString, kInteger, kReal, kBool, kChoice };

struct OptionSpec {
  std::string key;  // "section.key", or a bare key such as "model"
  OptionType type;
  std::string default_value;
  std::string description;
  std::vector<std::string> choices;  // kChoice
  double min = -1e308, max = 1e308;  // kInteger / kReal (inclusive)
};

// The table, in documentation order.
const std::vector<OptionSpec>& option_table();

// Parsed and checked values of every option (defaults filled in). Accessors throw kmpi::Error
// for keys that are not in the table (a programming error).
class Options {
 public:
  std::string str(const std::string& key) const;
  long long integer(const std::string& key) const;
  // An integer option whose table minimum is >= 0 (sizes, counts, epochs) as a size.
  std::size_t count(const std::string& key) const {
    return static_cast<std::size_t>(integer(key));
  }
  double real(const std::string& key) const;
  bool flag(const std::string& key) const;
  bool given(const std::string& key) const;  // set on the command line or in the config
  void set(const std::string& key, const std::string& value);  // checked like parsed input
  void reset(const std::string& key);  // back to its default, not given
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  friend Options parse_options(const std::vector<std::string>& args);
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> given_;
};

// local: parses `--key=value` / `--key value` arguments and, if `--config FILE` is among them,
// the INI file (command line wins). Every error is one line naming the option, and the file for
// config errors: unknown key, missing value, wrong type, out of range, not a choice.
Options parse_options(const std::vector<std::string>& args);

// local: `--help` text and a documented INI file with every key at its default.
std::string options_help();
std::string default_config();

}  // namespace kmpi
