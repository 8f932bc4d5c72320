// fault_times: the summary table and the JSON file.
#include "fault_times.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <stdexcept>

namespace fault_times {
namespace {

bool detection_by_error(const Detection& detection) {
  return detection.reported && detection.code != kWrongData;
}

// Detection times of one group of ranks over all runs, and the codes they reported.
struct Group {
  std::vector<double> times_ms;
  std::map<std::string, int> codes;
  int expected = 0;  // detections the group should have made

  void add(const Detection& detection) {
    ++expected;
    if (!detection.reported) return;
    ++codes[detection.code];
    // Wrong data is a fault the library never reported: counted, but not a detection time.
    if (detection_by_error(detection)) times_ms.push_back(detection.detect_ms);
  }
};

double median(const std::vector<double>& unsorted) {
  std::vector<double> values = unsorted;
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

double worst(const std::vector<double>& values) {
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

int max_distance(const Config& config) { return config.world / 2; }

struct Summary {
  Group neighbours;                   // one hop from the victim
  Group farthest;                     // world / 2 hops
  Group others;                       // every survivor that is not a neighbour
  std::vector<double> whole_ring_ms;  // per run: the last survivor's detection
  int runs = 0;
  int failed_runs = 0;
};

Summary summarize(const Config& config, const ScenarioResult& scenario) {
  Summary summary;
  for (const RunResult& run : scenario.runs) {
    ++summary.runs;
    if (!run.error.empty()) ++summary.failed_runs;
    if (run.survivors.empty()) continue;  // failed before the fault
    double last = 0;
    bool all = true;
    for (const Detection& detection : run.survivors) {
      if (detection.distance == 1) summary.neighbours.add(detection);
      if (detection.distance == max_distance(config)) summary.farthest.add(detection);
      if (detection.distance != 1) summary.others.add(detection);
      all = all && detection_by_error(detection);
      last = std::max(last, detection.detect_ms);
    }
    if (all) summary.whole_ring_ms.push_back(last);
  }
  return summary;
}

std::string codes_text(const std::map<std::string, int>& codes) {
  std::string text;
  for (const auto& [code, count] : codes) {
    text += (text.empty() ? "" : ", ") + code + " x" + std::to_string(count);
  }
  return text.empty() ? "-" : text;
}

std::string json_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out;
}

std::string json_group(const Group& group) {
  std::string codes;
  for (const auto& [code, count] : group.codes) {
    codes += (codes.empty() ? "\"" : ", \"") + code + "\": " + std::to_string(count);
  }
  char numbers[160];
  std::snprintf(numbers, sizeof numbers,
                "\"median_ms\": %.3f, \"worst_ms\": %.3f, \"detected\": %zu, \"expected\": %d",
                median(group.times_ms), worst(group.times_ms), group.times_ms.size(),
                group.expected);
  return std::string("{") + numbers + ", \"codes\": {" + codes + "}}";
}

}  // namespace

int distance(int rank, int victim, int world) {
  const int forward = ((rank - victim) % world + world) % world;
  return std::min(forward, world - forward);
}

void print_table(const Config& config, const std::vector<ScenarioResult>& scenarios) {
  std::printf(
      "# fault_times: ring of %d on 127.0.0.1, victim rank %d, liveness timeout %lld ms, "
      "operation timeout %lld ms, %zu-byte messages, %d run(s) per scenario\n",
      config.world, config.victim, static_cast<long long>(config.liveness.count()),
      static_cast<long long>(config.op_timeout.count()), config.size, config.runs);
  std::printf(
      "# detection time (ms) from the fault to each survivor's first failed operation. "
      "neighbours: 1 hop, farthest: %d hops; n: survivors told by an error / survivors. "
      "ring: the last survivor, over the runs where every survivor was told (n of them)\n",
      max_distance(config));
  std::printf("%-8s %5s | %10s %10s %7s | %10s %10s %7s | %10s %10s %7s | %s\n", "scenario", "runs",
              "nbr median", "nbr worst", "nbr n", "far median", "far worst", "far n", "ring med",
              "ring worst", "ring n", "codes (neighbours; others)");
  for (const ScenarioResult& scenario : scenarios) {
    const Summary s = summarize(config, scenario);
    const auto count = [](const Group& group) {
      return std::to_string(group.times_ms.size()) + "/" + std::to_string(group.expected);
    };
    // "-" where no rank of the group was told: 0 would read as instant detection.
    const auto ms = [](const std::vector<double>& values,
                       double (*statistic)(const std::vector<double>&)) {
      char text[32] = "-";
      if (!values.empty()) std::snprintf(text, sizeof text, "%.1f", statistic(values));
      return std::string(text);
    };
    std::printf(
        "%-8s %5d | %10s %10s %7s | %10s %10s %7s | %10s %10s %7s | %s; %s%s\n",
        std::string(to_string(scenario.fault)).c_str(), s.runs,
        ms(s.neighbours.times_ms, median).c_str(), ms(s.neighbours.times_ms, worst).c_str(),
        count(s.neighbours).c_str(), ms(s.farthest.times_ms, median).c_str(),
        ms(s.farthest.times_ms, worst).c_str(), count(s.farthest).c_str(),
        ms(s.whole_ring_ms, median).c_str(), ms(s.whole_ring_ms, worst).c_str(),
        (std::to_string(s.whole_ring_ms.size()) + "/" + std::to_string(s.runs)).c_str(),
        codes_text(s.neighbours.codes).c_str(), codes_text(s.others.codes).c_str(),
        s.failed_runs ? (" [" + std::to_string(s.failed_runs) + " run(s) failed]").c_str() : "");
  }
  std::fflush(stdout);
}

void write_json(const Config& config, const std::vector<ScenarioResult>& scenarios) {
  std::FILE* file = std::fopen(config.json_path.c_str(), "w");
  if (file == nullptr) throw std::runtime_error("cannot write " + config.json_path);
  std::fprintf(file,
               "{\n  \"world\": %d,\n  \"victim\": %d,\n  \"liveness_ms\": %lld,\n"
               "  \"op_timeout_ms\": %lld,\n  \"size_bytes\": %zu,\n  \"runs\": %d,\n"
               "  \"scenarios\": [",
               config.world, config.victim, static_cast<long long>(config.liveness.count()),
               static_cast<long long>(config.op_timeout.count()), config.size, config.runs);
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const ScenarioResult& scenario = scenarios[i];
    const Summary s = summarize(config, scenario);
    std::fprintf(file,
                 "%s\n    {\"name\": \"%s\", \"failed_runs\": %d,\n"
                 "     \"neighbours\": %s,\n     \"farthest\": %s,\n"
                 "     \"whole_ring\": {\"median_ms\": %.3f, \"worst_ms\": %.3f, "
                 "\"complete_runs\": %zu},\n     \"runs\": [",
                 i ? "," : "", std::string(to_string(scenario.fault)).c_str(), s.failed_runs,
                 json_group(s.neighbours).c_str(), json_group(s.farthest).c_str(),
                 median(s.whole_ring_ms), worst(s.whole_ring_ms), s.whole_ring_ms.size());
    for (std::size_t r = 0; r < scenario.runs.size(); ++r) {
      const RunResult& run = scenario.runs[r];
      std::fprintf(file, "%s\n       {\"error\": \"%s\", \"ranks\": [", r ? "," : "",
                   json_escape(run.error).c_str());
      for (std::size_t d = 0; d < run.survivors.size(); ++d) {
        const Detection& detection = run.survivors[d];
        std::fprintf(file,
                     "%s{\"rank\": %d, \"distance\": %d, \"reported\": %s, \"code\": \"%s\", "
                     "\"detect_ms\": %.3f, \"what\": \"%s\"}",
                     d ? ", " : "", detection.rank, detection.distance,
                     detection.reported ? "true" : "false", json_escape(detection.code).c_str(),
                     detection.detect_ms, json_escape(detection.what).c_str());
      }
      std::fprintf(file, "]}");
    }
    std::fprintf(file, "]}");
  }
  std::fprintf(file, "\n  ]\n}\n");
  if (std::fclose(file) != 0) throw std::runtime_error("cannot write " + config.json_path);
}

}  // namespace fault_times
