// Test helper for service.md K7: librdkafka's mock cluster (real Kafka protocol on loopback, in
// this process), and the producer, reader and offset query the tests drive it with. Not part of
// the k8s-netio program.
//
//   kafka_helper mock-cluster BROKERS TOPIC:PARTITIONS...   prints "bootstrap HOST:PORT,..."
//                                                           and serves until stdin closes
//   kafka_helper produce BOOTSTRAP TOPIC RECORDS_FILE       records: i32 partition (-1: by
//                                                           key), u32 key length, key, u32
//                                                           value length (~0: null), value
//   kafka_helper read BOOTSTRAP TOPIC                       every record up to the end, one
//                                                           line each: partition offset
//                                                           key-hex value-hex (- for null)
//   kafka_helper committed BOOTSTRAP GROUP TOPIC            one line per partition: partition
//                                                           committed-offset end-offset
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace {

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "kafka_helper: %s\n", message.c_str());
  std::exit(1);
}

rd_kafka_t* make(rd_kafka_type_t type, const std::string& bootstrap,
                 const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  char why[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), why, sizeof why) != RD_KAFKA_CONF_OK)
      die(k + ": " + why);
  };
  if (!bootstrap.empty()) set("bootstrap.servers", bootstrap);
  for (const auto& [k, v] : extra) set(k, v);
  rd_kafka_t* rk = rd_kafka_new(type, conf, why, sizeof why);
  if (!rk) die(why);
  return rk;
}

int partition_count(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const auto err = rd_kafka_metadata(rk, 0, t, &md, 10000);
  rd_kafka_topic_destroy(t);
  if (err) die(std::string("metadata: ") + rd_kafka_err2str(err));
  if (md->topic_cnt != 1 || md->topics[0].err) die("no topic " + topic);
  const int n = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  return n;
}

std::string hex(const void* data, std::size_t n) {
  if (!data) return "-";
  static const char digits[] = "0123456789abcdef";
  std::string out;
  const auto* b = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[b[i] >> 4];
    out += digits[b[i] & 15];
  }
  return out.empty() ? std::string("") : out;
}

int mock_cluster(int argc, char** argv) {
  if (argc < 3) die("mock-cluster BROKERS TOPIC:PARTITIONS...");
  rd_kafka_t* host = make(RD_KAFKA_PRODUCER, "");
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(host, std::atoi(argv[2]));
  if (!cluster) die("rd_kafka_mock_cluster_new failed");
  for (int i = 3; i < argc; ++i) {
    std::string spec = argv[i];
    const auto colon = spec.find(':');
    if (colon == std::string::npos) die("TOPIC:PARTITIONS expected: " + spec);
    const auto err = rd_kafka_mock_topic_create(cluster, spec.substr(0, colon).c_str(),
                                                std::atoi(spec.c_str() + colon + 1), 3);
    if (err) die(std::string("topic ") + spec + ": " + rd_kafka_err2str(err));
  }
  std::printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);
  char buffer[256];
  while (::read(0, buffer, sizeof buffer) > 0) {
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(host);
  return 0;
}

std::uint32_t u32(const std::string& s, std::size_t& at) {
  if (at + 4 > s.size()) die("records file truncated");
  std::uint32_t v = 0;
  std::memcpy(&v, s.data() + at, 4);
  at += 4;
  return v;
}

int produce(int argc, char** argv) {
  if (argc != 5) die("produce BOOTSTRAP TOPIC RECORDS_FILE");
  std::ifstream in(argv[4], std::ios::binary);
  if (!in) die(std::string("cannot open ") + argv[4]);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  rd_kafka_t* rk = make(RD_KAFKA_PRODUCER, argv[2],
                        {{"linger.ms", "20"}, {"compression.codec", "lz4"}, {"acks", "all"}});
  static int failures = 0;
  std::size_t at = 0, n = 0;
  while (at < data.size()) {
    const auto partition = static_cast<std::int32_t>(u32(data, at));
    const std::uint32_t key_len = u32(data, at);
    if (at + key_len > data.size()) die("records file truncated");
    const std::string key = data.substr(at, key_len);
    at += key_len;
    const std::uint32_t value_len = u32(data, at);
    const bool null_value = value_len == 0xFFFFFFFFu;
    if (!null_value && at + value_len > data.size()) die("records file truncated");
    const std::string value = null_value ? std::string() : data.substr(at, value_len);
    if (!null_value) at += value_len;
    rd_kafka_resp_err_t err;
    do {
      err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(argv[3]), RD_KAFKA_V_PARTITION(partition),
          // Parenthesized: the macros cast their argument without parentheses of their own.
          RD_KAFKA_V_KEY((key_len ? key.data() : nullptr), key.size()),
          RD_KAFKA_V_VALUE((null_value ? nullptr : const_cast<char*>(value.data())), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(rk, 50);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    if (err) die(std::string("produce: ") + rd_kafka_err2str(err));
    rd_kafka_poll(rk, 0);
    ++n;
  }
  if (rd_kafka_flush(rk, 60000)) die("flush timed out");
  (void)failures;
  rd_kafka_destroy(rk);
  std::fprintf(stderr, "kafka_helper: produced %zu records to %s\n", n, argv[3]);
  return 0;
}

int read_topic(int argc, char** argv) {
  if (argc != 4) die("read BOOTSTRAP TOPIC");
  // rd_kafka_consumer_poll needs a group id, even for a manual assignment that never joins.
  rd_kafka_t* rk = make(RD_KAFKA_CONSUMER, argv[2],
                        {{"group.id", "kafka_helper-read"}, {"enable.auto.commit", "false"}});
  const int partitions = partition_count(rk, argv[3]);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  std::vector<std::int64_t> ends(static_cast<std::size_t>(partitions));
  int pending = 0;
  for (int p = 0; p < partitions; ++p) {
    std::int64_t low = 0, high = 0;
    if (auto err = rd_kafka_query_watermark_offsets(rk, argv[3], p, &low, &high, 10000))
      die(std::string("watermarks: ") + rd_kafka_err2str(err));
    ends[static_cast<std::size_t>(p)] = high;
    if (high > low) {
      rd_kafka_topic_partition_list_add(list, argv[3], p)->offset = RD_KAFKA_OFFSET_BEGINNING;
      ++pending;
    }
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  int idle = 0;
  while (pending > 0 && idle < 100) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (!m) {
      ++idle;
      continue;
    }
    idle = 0;
    if (m->err) {
      std::fprintf(stderr, "kafka_helper: %s\n", rd_kafka_message_errstr(m));
    } else {
      std::printf("%d %lld %s %s\n", m->partition, static_cast<long long>(m->offset),
                  hex(m->key ? m->key : "", m->key_len).c_str(), hex(m->payload, m->len).c_str());
      if (m->offset + 1 == ends[static_cast<std::size_t>(m->partition)]) --pending;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_destroy(rk);
  if (pending > 0) die("reading timed out");
  return 0;
}

int committed(int argc, char** argv) {
  if (argc != 5) die("committed BOOTSTRAP GROUP TOPIC");
  rd_kafka_t* rk = make(RD_KAFKA_CONSUMER, argv[2], {{"group.id", argv[3]}});
  const int partitions = partition_count(rk, argv[4]);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, argv[4], p);
  if (auto err = rd_kafka_committed(rk, list, 10000))
    die(std::string("committed: ") + rd_kafka_err2str(err));
  for (int i = 0; i < list->cnt; ++i) {
    std::int64_t low = 0, high = 0;
    rd_kafka_query_watermark_offsets(rk, argv[4], list->elems[i].partition, &low, &high, 10000);
    std::printf("%d %lld %lld\n", list->elems[i].partition,
                static_cast<long long>(list->elems[i].offset), static_cast<long long>(high));
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("mock-cluster | produce | read | committed");
  const std::string command = argv[1];
  if (command == "mock-cluster") return mock_cluster(argc, argv);
  if (command == "produce") return produce(argc, argv);
  if (command == "read") return read_topic(argc, argv);
  if (command == "committed") return committed(argc, argv);
  die("unknown command " + command);
}
