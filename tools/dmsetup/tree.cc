// The device dependency tree of dmsetup: libdm's dm_tree (libdm-deptree.c)
// as far as `ls --tree` and the tree report fields use it, and dmsetup's
// pstree-style drawing of it.
#include "tools/dmsetup/tree.h"

#include <stdlib.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dmioctl/error.h"

namespace dmkit::dmsetup {

DepTree::DepTree() { nodes_.emplace_back(); }

int DepTree::Find(dmioctl::DevNum dev) const {
  for (size_t i = 1; i < nodes_.size(); ++i) {
    if (nodes_[i].dev == dev) return static_cast<int>(i);
  }
  return dev.IsZero() ? kRoot : -1;
}

bool DepTree::Linked(int parent, int child) const {
  const std::vector<int>& uses = nodes_[parent].uses;
  return std::find(uses.begin(), uses.end(), child) != uses.end();
}

void DepTree::Link(int parent, int child) {
  if (Linked(parent, child)) return;
  nodes_[parent].uses.push_back(child);
  nodes_[child].used_by.push_back(parent);
}

void DepTree::Unlink(int parent, int child) {
  if (!Linked(parent, child)) return;
  std::vector<int>& uses = nodes_[parent].uses;
  uses.erase(std::find(uses.begin(), uses.end(), child));
  std::vector<int>& used_by = nodes_[child].used_by;
  used_by.erase(std::find(used_by.begin(), used_by.end(), parent));
}

int DepTree::NumChildren(int i, bool inverted) const {
  if (inverted) {
    if (Linked(kRoot, i)) return 0;
    return static_cast<int>(nodes_[i].used_by.size());
  }
  if (Linked(i, kRoot)) return 0;
  return static_cast<int>(nodes_[i].uses.size());
}

absl::Status DepTree::AddDevice(Session& s, dmioctl::DevNum dev) {
  return AddNode(s, kRoot, dev).status();
}

// libdm _add_dev(): find or create the node, link it under `parent`, and
// on creation recurse into the devices its table uses.
absl::StatusOr<int> DepTree::AddNode(Session& s, int parent,
                                     dmioctl::DevNum dev) {
  int idx = Find(dev);
  bool created = false;
  std::vector<dmioctl::DevNum> deps;
  if (idx < 0 || idx == kRoot) {
    TreeNode node;
    node.dev = dev;
    if (s.IsDmMajor(dev.major)) {
      DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
      absl::StatusOr<dmioctl::DepsReply> reply =
          dm->GetDeps(dmioctl::DeviceRef::ByDevNum(dev));
      if (!reply.ok()) {
        return Failure(absl::StrCat(ErrorText(reply.status()),
                                    "\n_deps: task run failed for (", dev.major,
                                    ":", dev.minor, ")"));
      }
      node.exists = true;
      node.info = reply->info;
      // A name that cannot be shown is printed as libdm logs it, and kept.
      absl::StatusOr<std::string> name = s.Unmangled(reply->info.name, "name");
      s.PrintError(name.status());
      node.name = name.value_or(reply->info.name);
      node.uuid = reply->info.uuid;
      deps = reply->devices;
    }
    nodes_.push_back(std::move(node));
    idx = static_cast<int>(nodes_.size() - 1);
    created = true;
  }
  // _link_tree_nodes()
  if (parent == kRoot) {
    if (NumChildren(idx, true) == 0) Link(kRoot, idx);
  } else {
    Unlink(kRoot, idx);
    Unlink(parent, kRoot);
    Link(parent, idx);
  }
  if (!created) return idx;
  if (!nodes_[idx].exists || deps.empty()) {
    Link(idx, kRoot);
    return idx;
  }
  for (dmioctl::DevNum d : deps) {
    DMKIT_RETURN_IF_ERROR(AddNode(s, idx, d).status());
  }
  return idx;
}

namespace {

struct Symbols {
  const char* empty_2;
  const char* branch_2;
  const char* vert_2;
  const char* last_2;
  const char* single_3;
  const char* first_3;
};

constexpr Symbols kAscii = {"  ", "|-", "| ", "`-", "---", "-+-"};
constexpr Symbols kUtf = {"  ",
                          "\342\224\234\342\224\200",
                          "\342\224\202 ",
                          "\342\224\224\342\224\200",
                          "\342\224\200\342\224\200\342\224\200",
                          "\342\224\200\342\224\254\342\224\200"};
constexpr Symbols kVt100 = {"  ",
                            "\033(0\017tq\033(B",
                            "\033(0\017x\033(B ",
                            "\033(0\017mq\033(B",
                            "\033(0\017qqq\033(B",
                            "\033(0\017qwq\033(B"};

constexpr int kMaxDepth = 100;

// dmsetup's tree printer: column tracking and truncation at the terminal
// width (_out_char and friends).
class TreePrinter {
 public:
  TreePrinter(Session& s, const DepTree& tree, const TreeStyle& style)
      : s_(s), tree_(tree), style_(style) {
    sym_ = style.symbols == 1 ? &kUtf : style.symbols == 2 ? &kVt100 : &kAscii;
  }

  std::string Render() {
    Walk(DepTree::kRoot, 0);
    return std::move(out_);
  }

 private:
  bool PrintAttribute() const {
    return style_.active || style_.rw || style_.open || style_.uuid;
  }
  bool Compact() const { return style_.compact && !PrintAttribute(); }

  void Char(unsigned char c) {
    cur_x_ += ((c & 0xc0) != 0x80);
    if (!style_.truncate) {
      out_.push_back(static_cast<char>(c));
      return;
    }
    if (cur_x_ <= style_.width) out_.push_back(static_cast<char>(c));
    if (cur_x_ == style_.width + 1 && ((c & 0xc0) != 0x80)) {
      if (last_char_ || (c & 0x80)) {
        out_ += "...";
      } else {
        last_char_ = c;
        --cur_x_;
      }
    }
  }
  void String(absl::string_view str) {
    for (char c : str) Char(static_cast<unsigned char>(c));
  }
  void Int(unsigned num) { String(absl::StrCat(num)); }
  void Newline() {
    if (last_char_ && cur_x_ == style_.width) {
      out_.push_back(static_cast<char>(last_char_));
    }
    last_char_ = 0;
    out_.push_back('\n');
    cur_x_ = 1;
  }
  void Prefix(int depth) {
    for (int d = 0; d < depth; ++d) {
      for (int x = width_[d] + 1; x > 0; --x) Char(' ');
      String(d == depth - 1 ? (!more_[depth] ? sym_->last_2 : sym_->branch_2)
                            : (more_[d + 1] ? sym_->vert_2 : sym_->empty_2));
    }
  }

  void Node(int i, int depth, bool last_child, bool has_children) {
    if (depth + 2 > kMaxDepth) return;
    const TreeNode& node = tree_.node(i);
    if (node.name.empty() && !style_.device && !style_.blkdevname) return;
    more_[depth] = !last_child;
    width_[depth] = 0;
    bool first_on_line = cur_x_ == 1;
    if (!Compact() || first_on_line) Prefix(depth);
    int offset = cur_x_;
    if (Compact() && !first_on_line) {
      String(more_[depth] ? sym_->first_3 : sym_->single_3);
    }
    String(node.name);
    if (style_.blkdevname) {
      absl::StatusOr<std::string> n = s_.DeviceName(node.dev, true);
      s_.PrintError(n.status());
      if (n.ok()) {
        String(" <");
        String(*n);
        Char('>');
      }
    }
    if (style_.device) {
      String(" (");
      Int(node.dev.major);
      Char(':');
      Int(node.dev.minor);
      Char(')');
    }
    if (PrintAttribute() && node.exists) {
      int attr = 0;
      if (style_.active) {
        String(attr++ ? ", " : " [");
        String(node.info.suspended() ? "SUSPENDED" : "ACTIVE");
      }
      if (style_.rw) {
        String(attr++ ? ", " : " [");
        String(node.info.read_only() ? "RO" : "RW");
      }
      if (style_.open) {
        String(attr++ ? ", " : " [");
        Int(static_cast<unsigned>(node.info.open_count));
      }
      if (style_.uuid) {
        String(attr++ ? ", " : " [");
        String(node.uuid);
      }
      if (attr) Char(']');
    }
    if (Compact()) width_[depth] = cur_x_ - offset;
    if (!Compact() || !has_children) Newline();
  }

  void Walk(int parent, int depth) {
    const bool inverted = style_.bottom_up;
    const TreeNode& p = tree_.node(parent);
    const std::vector<int> children = inverted ? p.used_by : p.uses;
    for (size_t k = 0; k < children.size(); ++k) {
      int child = children[k];
      bool has_children = tree_.NumChildren(child, inverted) > 0;
      Node(child, depth, k + 1 == children.size(), has_children);
      if (has_children) Walk(child, depth + 1);
    }
  }

  Session& s_;
  const DepTree& tree_;
  const TreeStyle& style_;
  const Symbols* sym_;
  std::string out_;
  int cur_x_ = 1;
  unsigned char last_char_ = 0;
  int width_[kMaxDepth] = {};
  int more_[kMaxDepth] = {};
};

// nl_langinfo(CODESET) == "UTF-8" after setlocale(LC_ALL, ""), judged from
// the environment (the static binary carries no locale data).
bool Utf8Locale() {
  const char* value = nullptr;
  for (const char* var : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* v = getenv(var);
    if (v != nullptr && *v) {
      value = v;
      break;
    }
  }
  if (value == nullptr) return false;
  std::string lower = absl::AsciiStrToLower(value);
  return absl::StrContains(lower, "utf-8") || absl::StrContains(lower, "utf8");
}

}  // namespace

absl::Status ParseTreeOptions(absl::string_view options, TreeStyle* st) {
  *st = TreeStyle();
  st->symbols = Utf8Locale() ? 1 : 0;
  absl::string_view rest = options;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    absl::string_view word = rest.substr(0, comma);
    auto is = [&](absl::string_view option) {
      return word.size() <= option.size() &&
             option.substr(0, word.size()) == word;
    };
    if (is("device")) {
      st->device = true;
    } else if (is("blkdevname")) {
      st->blkdevname = true;
    } else if (is("nodevice")) {
      st->device = false;
    } else if (is("status") || is("table")) {
      // Accepted; dmsetup prints nothing for them either.
    } else if (is("active")) {
      st->active = true;
    } else if (is("open")) {
      st->open = true;
    } else if (is("uuid")) {
      st->uuid = true;
    } else if (is("rw")) {
      st->rw = true;
    } else if (is("utf")) {
      st->symbols = 1;
    } else if (is("vt100")) {
      st->symbols = 2;
    } else if (is("ascii")) {
      st->symbols = 0;
    } else if (is("inverted")) {
      st->bottom_up = true;
    } else if (is("compact")) {
      st->compact = true;
    } else if (is("notrunc")) {
      st->truncate = false;
    } else {
      return Failure(absl::StrCat("Tree options not recognised: ", rest, "."));
    }
    if (comma == absl::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  // Truncation does not work well with vt100 drawing characters.
  if (st->symbols != 2) {
    struct winsize ws = {};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) >= 0 && ws.ws_col > 3) {
      st->width = ws.ws_col - 3;
    }
  }
  return absl::OkStatus();
}

std::string RenderTree(Session& s, const DepTree& tree,
                       const TreeStyle& style) {
  return TreePrinter(s, tree, style).Render();
}

absl::Status CmdTree(Session& s, const CmdArgs& a) {
  DepTree tree;
  absl::Status r =
      ProcessAll(s, a, false, [&](Session& s, const CmdArgs& listed) {
        return tree.AddDevice(s, listed.listed_dev);
      });
  s.Out(RenderTree(s, tree, s.opt().tree_style));
  return r;
}

}  // namespace dmkit::dmsetup
