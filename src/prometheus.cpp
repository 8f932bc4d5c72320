// ringpipe: RingStats in the Prometheus text exposition format (version 0.0.4).
#include <ringpipe/stats.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringpipe {
namespace {

// The shortest text that reads back as the same double.
std::string number(double value) {
  char text[32];
  const auto result = std::to_chars(text, text + sizeof text, value);
  return std::string(text, result.ptr);
}

// A label value: backslash, double quote and line feed escaped.
std::string escaped(std::string_view value) {
  std::string text;
  text.reserve(value.size());
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      text += '\\';
      text += c;
    } else if (c == '\n') {
      text += "\\n";
    } else {
      text += c;
    }
  }
  return text;
}

std::string label(std::string_view name, std::string_view value) {
  return std::string(name) + "=\"" + escaped(value) + "\"";
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, std::string_view name, const std::string& labels,
            const std::string& value) {
  out += name;
  out += '{';
  out += labels;
  out += "} ";
  out += value;
  out += '\n';
}

std::string edge_labels(const RingStats& stats, const EdgeStats& edge) {
  return label("rank", std::to_string(stats.rank)) + "," +
         label("peer", std::to_string(edge.peer)) + "," + label("edge", edge.edge);
}

// One sample per edge and direction of the value `of` picks.
template <typename Of>
void per_direction(std::string& out, const RingStats& stats, std::string_view name, Of&& of) {
  for (const EdgeStats& edge : stats.edges) {
    for (const auto* direction : {&edge.send, &edge.recv}) {
      const std::string labels = edge_labels(stats, edge) + "," +
                                 label("direction", direction == &edge.send ? "send" : "recv");
      sample(out, name, labels, std::to_string(of(*direction)));
    }
  }
}

std::string join(const std::vector<std::string>& parts) {
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : ",") + part;
  return text;
}

void latency_histogram(std::string& out, const RingStats& stats) {
  constexpr std::string_view kName = "ringpipe_operation_latency_seconds";
  family(out, kName, "histogram",
         "Time from post to completion of the messages completed on an edge.");
  for (const EdgeStats& edge : stats.edges) {
    for (const DirectionStats* direction : {&edge.send, &edge.recv}) {
      const std::string labels = edge_labels(stats, edge) + "," +
                                 label("direction", direction == &edge.send ? "send" : "recv");
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i + 1 < kLatencyBuckets; ++i) {
        cumulative += direction->latency_buckets[i];
        const double bound = std::ldexp(1e-9, static_cast<int>(i));  // 2^i ns
        sample(out, std::string(kName) + "_bucket", labels + "," + label("le", number(bound)),
               std::to_string(cumulative));
      }
      cumulative += direction->latency_buckets[kLatencyBuckets - 1];
      sample(out, std::string(kName) + "_bucket", labels + "," + label("le", "+Inf"),
             std::to_string(cumulative));
      sample(out, std::string(kName) + "_sum", labels,
             number(static_cast<double>(direction->latency_sum_ns) * 1e-9));
      sample(out, std::string(kName) + "_count", labels, std::to_string(cumulative));
    }
  }
}

}  // namespace

std::string to_prometheus(const RingStats& stats) {
  std::string out;
  const std::string ring = label("rank", std::to_string(stats.rank));

  family(out, "ringpipe_rendezvous_seconds", "gauge", "How long joining the ring took.");
  sample(out, "ringpipe_rendezvous_seconds", ring, number(stats.rendezvous_seconds));
  family(out, "ringpipe_liveness_beats_missed_total", "counter",
         "Heartbeats the neighbours were due to send that did not come in time.");
  sample(out, "ringpipe_liveness_beats_missed_total", ring,
         std::to_string(stats.liveness_beats_missed));

  family(out, "ringpipe_edge_info", "gauge", "How each edge moves its data (always 1).");
  for (const EdgeStats& edge : stats.edges) {
    sample(out, "ringpipe_edge_info",
           edge_labels(stats, edge) + "," + label("data_path", to_string(edge.link.data_path)) +
               "," + label("peer_host", edge.link.peer_host) + "," +
               label("transports", join(edge.link.transports)),
           "1");
  }

  family(out, "ringpipe_messages_total", "counter", "Messages completed successfully.");
  per_direction(out, stats, "ringpipe_messages_total",
                [](const DirectionStats& d) { return d.messages; });
  family(out, "ringpipe_bytes_total", "counter", "Bytes moved by the messages completed.");
  per_direction(out, stats, "ringpipe_bytes_total",
                [](const DirectionStats& d) { return d.bytes; });
  family(out, "ringpipe_requests_in_flight", "gauge",
         "Messages posted and not yet completed, failed or dropped.");
  per_direction(out, stats, "ringpipe_requests_in_flight",
                [](const DirectionStats& d) { return d.in_flight; });

  family(out, "ringpipe_failures_total", "counter", "Operations failed, by the error's code.");
  for (const EdgeStats& edge : stats.edges) {
    for (const DirectionStats* direction : {&edge.send, &edge.recv}) {
      const std::string labels = edge_labels(stats, edge) + "," +
                                 label("direction", direction == &edge.send ? "send" : "recv");
      for (std::size_t code = 0; code < kErrcCount; ++code) {
        sample(out, "ringpipe_failures_total",
               labels + "," + label("cause", to_string(static_cast<Errc>(code))),
               std::to_string(direction->failures[code]));
      }
    }
  }

  family(out, "ringpipe_last_error_info", "gauge",
         "The last failure of an edge (always 1; absent while it has none).");
  for (const EdgeStats& edge : stats.edges) {
    if (!edge.last_error) continue;
    sample(out, "ringpipe_last_error_info",
           edge_labels(stats, edge) + "," + label("cause", to_string(edge.last_error->code)) + "," +
               label("message", edge.last_error->message),
           "1");
  }

  latency_histogram(out, stats);
  return out;
}

}  // namespace ringpipe
