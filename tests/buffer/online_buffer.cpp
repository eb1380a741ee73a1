#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "rltf/buffer/online_buffer.hpp"

namespace buffer_test {
std::vector<int> range(int lo, int hi) {
  std::vector<int> v;
  for (int i = lo; i < hi; ++i) v.push_back(i);
  return v;
}
std::vector<int> contents(const rltf::OnlineBuffer<int>& b) {
  std::vector<int> v;
  for (std::size_t i = 0; i < b.size(); ++i) v.push_back(b[i]);
  return v;
}
std::vector<int> view(const rltf::OnlineBuffer<int>& b) {
  std::vector<int> v;
  for (std::size_t i = 0; i < b.view_size(); ++i) v.push_back(b.view_at(i));
  return v;
}
} // namespace buffer_test

TEST_CASE("OnlineBuffer: defaults are RLTF's and it models Buffer") {
  static_assert(rltf::Buffer<rltf::OnlineBuffer<std::string>>);
  rltf::OnlineBuffer<int> b;
  CHECK(b.capacity() == 6400);
  CHECK(b.options().refresh_every == 50);
  CHECK(b.size() == 0);
  CHECK_THROWS_AS(rltf::OnlineBuffer<int>({.capacity = 0}), rltf::invalid_argument);
  CHECK_THROWS_AS(rltf::OnlineBuffer<int>({.capacity = 3, .refresh_every = 0}), rltf::invalid_argument);
}

TEST_CASE("OnlineBuffer: FIFO displacement keeps the newest elements in order") {
  rltf::OnlineBuffer<int> b{{.capacity = 4, .refresh_every = 2}};
  const auto first = buffer_test::range(0, 3);
  b.push(first);
  CHECK(buffer_test::contents(b) == std::vector<int>{0, 1, 2});
  const auto more = buffer_test::range(3, 9);
  b.push(more);
  CHECK(buffer_test::contents(b) == std::vector<int>{5, 6, 7, 8});
  CHECK(b.size() == 4);
  CHECK(b.pushed() == 9);
  b.push(42);
  CHECK(buffer_test::contents(b) == std::vector<int>{6, 7, 8, 42});
}

TEST_CASE("OnlineBuffer: the learner's view refreshes every K optimiser steps") {
  rltf::OnlineBuffer<int> b{{.capacity = 8, .refresh_every = 3}};
  CHECK(b.view_size() == 0);
  const auto a = buffer_test::range(0, 2);
  b.push(a); // first push into an empty view refreshes at once
  CHECK(buffer_test::view(b) == std::vector<int>{0, 1});
  const auto c = buffer_test::range(2, 5);
  b.push(c);
  CHECK(buffer_test::view(b) == std::vector<int>{0, 1}); // not yet visible to the learner
  CHECK_FALSE(b.on_optimizer_step());
  CHECK_FALSE(b.on_optimizer_step());
  CHECK(b.steps_since_refresh() == 2);
  CHECK(buffer_test::view(b) == std::vector<int>{0, 1});
  CHECK(b.on_optimizer_step());
  CHECK(b.steps_since_refresh() == 0);
  CHECK(buffer_test::view(b) == std::vector<int>{0, 1, 2, 3, 4});
  // Elements displaced from the FIFO stay in the view until the next refresh.
  const auto d = buffer_test::range(5, 12);
  b.push(d);
  CHECK(buffer_test::contents(b) == std::vector<int>{4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(buffer_test::view(b) == std::vector<int>{0, 1, 2, 3, 4});
  rltf::Rng rng = rltf::make_rng(1);
  for (int v : b.sample(20, rng)) CHECK((v >= 0 && v <= 4));
}

TEST_CASE("OnlineBuffer: sampling without replacement, seeded and exact") {
  rltf::OnlineBuffer<int> b{{.capacity = 100, .refresh_every = 1}};
  const auto items = buffer_test::range(0, 10);
  b.push(items);
  rltf::Rng rng1 = rltf::make_rng(123);
  rltf::Rng rng2 = rltf::make_rng(123);
  const auto s1 = b.sample(10, rng1);
  const auto s2 = b.sample(10, rng2);
  CHECK(s1 == s2);                                         // same seed, same draw
  CHECK(std::set<int>(s1.begin(), s1.end()).size() == 10); // a permutation
  CHECK(s1 != items);                                      // ... and a shuffled one for this seed
  const auto part = b.sample(4, rng1);
  CHECK(std::set<int>(part.begin(), part.end()).size() == 4);
  // More than the view: whole shuffles, each element at least twice in 25 draws from 10.
  const auto many = b.sample(25, rng1);
  CHECK(many.size() == 25);
  for (int v = 0; v < 10; ++v) CHECK(std::count(many.begin(), many.end(), v) >= 2);
  CHECK(b.sample(0, rng1).empty());
  rltf::OnlineBuffer<int> empty;
  CHECK_THROWS_AS((void)empty.sample(1, rng1), rltf::invalid_argument);
}

TEST_CASE("OnlineBuffer: with replacement draws independently") {
  rltf::OnlineBuffer<int> b{{.capacity = 100, .refresh_every = 1, .without_replacement = false}};
  const auto items = buffer_test::range(0, 3);
  b.push(items);
  rltf::Rng rng = rltf::make_rng(5);
  const auto s = b.sample(30, rng);
  CHECK(s.size() == 30);
  // 30 draws from 3: with replacement some element repeats within the first 4 draws.
  CHECK(std::set<int>(s.begin(), s.begin() + 4).size() < 4);
}

TEST_CASE("OnlineBuffer: state round-trips exactly, including displaced view elements") {
  rltf::OnlineBuffer<std::string> b{{.capacity = 3, .refresh_every = 4}};
  b.push(std::vector<std::string>{"a", "b"});
  b.push(std::string("c"));
  (void)b.on_optimizer_step();
  b.push(std::vector<std::string>{"d", "e"}); // displaces a, b; the view still holds a b (first push)
  rltf::OnlineBuffer<std::string> r{{.capacity = 99, .refresh_every = 99}};
  const auto cbor = nlohmann::json::to_cbor(b.state());
  r.load_state(nlohmann::json::from_cbor(cbor));
  CHECK(r.capacity() == 3);
  CHECK(r.options().refresh_every == 4);
  CHECK(r.steps_since_refresh() == 1);
  CHECK(r.pushed() == 5);
  REQUIRE(r.size() == 3);
  CHECK(r[0] == "c");
  CHECK(r[2] == "e");
  REQUIRE(r.view_size() == b.view_size());
  for (std::size_t i = 0; i < b.view_size(); ++i) CHECK(r.view_at(i) == b.view_at(i));
  rltf::Rng g1 = rltf::make_rng(9);
  rltf::Rng g2 = rltf::make_rng(9);
  CHECK(b.sample(7, g1) == r.sample(7, g2));
  // The restored buffer continues exactly like the original.
  for (int i = 0; i < 3; ++i) CHECK(b.on_optimizer_step() == r.on_optimizer_step());
  CHECK(r.view_size() == 3);
}

TEST_CASE("OnlineBuffer: a malformed state is a parse_error naming the field") {
  rltf::OnlineBuffer<int> b;
  CHECK_THROWS_AS(b.load_state(nlohmann::json::object()), rltf::parse_error);
  rltf::OnlineBuffer<int> src{{.capacity = 2}};
  src.push(std::vector<int>{1, 2});
  auto j = src.state();
  j["view"][0]["fifo"] = 7;
  try {
    b.load_state(j, "ckpt/buffer.cbor");
    FAIL("expected a parse_error");
  } catch (const rltf::parse_error& e) {
    CHECK(e.field() == "view");
    CHECK(std::string(e.what()).find("ckpt/buffer.cbor") != std::string::npos);
  }
  auto k = src.state();
  k["capacity"] = 1; // two items do not fit
  CHECK_THROWS_AS(b.load_state(k), rltf::parse_error);
  auto m = src.state();
  m["items"][0] = "x"; // not an int
  CHECK_THROWS_AS(b.load_state(m), rltf::parse_error);
  CHECK(b.size() == 0); // a failed load leaves the buffer unchanged
}

TEST_CASE("OnlineBuffer: the 'latest' view holds the latest push at once") {
  rltf::OnlineBuffer<int> b{{.capacity = 8, .refresh_every = 100, .view = rltf::BufferView::latest}};
  b.push(buffer_test::range(0, 3));
  CHECK(buffer_test::view(b) == std::vector<int>{0, 1, 2});
  b.push(buffer_test::range(3, 5));
  CHECK(buffer_test::view(b) == std::vector<int>{3, 4}); // no refresh needed
  CHECK(buffer_test::contents(b) == std::vector<int>{0, 1, 2, 3, 4});
  b.refresh(); // a refresh keeps the latest push
  CHECK(buffer_test::view(b) == std::vector<int>{3, 4});
  b.push(std::vector<int>{});
  CHECK(buffer_test::view(b) == std::vector<int>{3, 4}); // an empty push changes nothing
  b.push(buffer_test::range(10, 20));                    // more than the capacity: the newest 8
  CHECK(buffer_test::view(b) == buffer_test::range(12, 20));
}

TEST_CASE("OnlineBuffer: sweep draws every element of the view once before any repeats") {
  rltf::OnlineBuffer<int> b{{.capacity = 10, .refresh_every = 1, .sweep = true}};
  b.push(buffer_test::range(0, 5));
  auto rng = rltf::make_rng(3);
  std::vector<int> drawn;
  for (int i = 0; i < 2; ++i)
    for (int v : b.sample(2, rng)) drawn.push_back(v);
  const auto fifth = b.sample(1, rng);
  drawn.push_back(fifth[0]);
  std::vector<int> sorted = drawn;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == buffer_test::range(0, 5)); // one pass: each element exactly once
  // The state mid-pass restores the pass: both continue with the same draws.
  const auto more = b.sample(2, rng);
  rltf::OnlineBuffer<int> copy;
  copy.load_state(b.state());
  CHECK(copy.options().sweep);
  auto r1 = rltf::make_rng(9);
  auto r2 = rltf::make_rng(9);
  CHECK(b.sample(7, r1) == copy.sample(7, r2));
  // A refresh starts a new pass over the new view.
  b.push(buffer_test::range(5, 7));
  (void)b.on_optimizer_step();
  std::vector<int> pass = b.sample(7, r1);
  std::sort(pass.begin(), pass.end());
  CHECK(pass == buffer_test::range(0, 7));
  (void)more;
}

TEST_CASE("OnlineBuffer: view mode and sweep order are checkpointed; bad ones are named") {
  rltf::OnlineBuffer<int> b{{.capacity = 4, .refresh_every = 1, .view = rltf::BufferView::latest, .sweep = true}};
  b.push(buffer_test::range(0, 3));
  auto rng = rltf::make_rng(1);
  (void)b.sample(1, rng);
  auto state = b.state();
  CHECK(state["view_mode"] == "latest");
  CHECK(state["sweep_order"].size() == 3);
  CHECK(state["sweep_cursor"] == 1);
  rltf::OnlineBuffer<int> copy;
  copy.load_state(state);
  CHECK(copy.options().view == rltf::BufferView::latest);
  CHECK(buffer_test::view(copy) == std::vector<int>{0, 1, 2});
  auto bad = state;
  bad["view_mode"] = "oldest";
  try {
    copy.load_state(bad, "buf.cbor");
    FAIL("accepted a bad view mode");
  } catch (const rltf::parse_error& e) {
    CHECK(std::string(e.what()).find("view_mode") != std::string::npos);
  }
  bad = state;
  bad["sweep_order"] = std::vector<int>{0, 7, 1};
  CHECK_THROWS_AS(copy.load_state(bad, "buf.cbor"), rltf::parse_error);
  // A state written before these fields existed loads with the defaults.
  auto old = state;
  old.erase("view_mode");
  old.erase("sweep");
  old.erase("sweep_order");
  old.erase("sweep_cursor");
  copy.load_state(old);
  CHECK(copy.options().view == rltf::BufferView::fifo);
  CHECK_FALSE(copy.options().sweep);
}
