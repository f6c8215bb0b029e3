// accelsim reference driver for DRAMsim3 (one channel).
//
// Usage: dramsim3_driver <config.ini> <requests.csv> <out_dir> [pattern_name]
//
// Reads a CSV with header `addr,bytes,op` (addr decimal or 0x-hex, op = read|write), splits
// every request into burst-size transactions aligned to the burst (128 B for the accelsim
// machine) as a DMA engine would -- a request [addr, addr+bytes) touches bursts
// floor(addr/B) .. floor((addr+bytes-1)/B), each issued once per request -- and hands them to a
// DRAMsim3 Controller strictly in order, as many per DRAM cycle as WillAcceptTransaction allows.
//
// The run ends at the later of
//   * the last read's data return (DRAMsim3 completes a read at READ issue + RL + BL/2), and
//   * the end of the last write's data on the bus (WRITE issue + WL + BL/2, measured by a
//     counter added to Controller::IssueCommand in the local build; DRAMsim3 itself
//     acknowledges writes when it accepts them).
// The simulation is stopped exactly at that cycle, so DRAMsim3's statistics (and its
// background energy) cover [first issue, end]. Then the Controller's final stats are written
// (out_dir/<pattern>.json/.txt) and one key=value summary line is printed on stdout.
//
// The driver builds the Controller directly (as JedecDRAMSystem does for each channel) and
// mirrors JedecDRAMSystem::ClockTick: return completed transactions, then tick the controller.

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "configuration.h"
#include "controller.h"
#include "timing.h"

using namespace dramsim3;

struct Txn {
    uint64_t addr;
    bool is_write;
};

static std::string Trim(const std::string &s) {
    size_t a = s.find_first_not_of(" \t\r\n");
    size_t b = s.find_last_not_of(" \t\r\n");
    return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        std::cerr << "usage: " << argv[0]
                  << " <config.ini> <requests.csv> <out_dir> [pattern_name]\n";
        return 2;
    }
    std::string ini = argv[1], csv = argv[2], out_dir = argv[3];
    std::string name = argc > 4 ? argv[4] : "run";

    Config config(ini, out_dir);
    // make DRAMsim3's stats files land in out_dir/<name>.*
    config.json_stats_name = config.output_dir + name + ".json";
    config.txt_stats_name = config.output_dir + name + ".txt";
    config.json_epoch_name = config.output_dir + name + "_epoch.json";
    Timing timing(config);
    Controller ctrl(0, config, timing);

    const uint64_t burst = static_cast<uint64_t>(config.request_size_bytes);

    // ---- read requests and split them into burst transactions ----
    std::ifstream in(csv);
    if (!in) {
        std::cerr << "cannot open " << csv << "\n";
        return 2;
    }
    std::string line;
    std::getline(in, line);
    if (Trim(line) != "addr,bytes,op") {
        std::cerr << "bad header: " << line << "\n";
        return 2;
    }
    std::vector<Txn> txns;
    uint64_t requests = 0, bytes_requested = 0, reads_req = 0, writes_req = 0;
    while (std::getline(in, line)) {
        line = Trim(line);
        if (line.empty() || line[0] == '#') continue;
        std::stringstream ss(line);
        std::string a, b, op;
        std::getline(ss, a, ',');
        std::getline(ss, b, ',');
        std::getline(ss, op, ',');
        uint64_t addr = std::stoull(Trim(a), nullptr, 0);
        uint64_t bytes = std::stoull(Trim(b), nullptr, 0);
        op = Trim(op);
        bool w;
        if (op == "read") {
            w = false;
        } else if (op == "write") {
            w = true;
        } else {
            std::cerr << "bad op: " << op << "\n";
            return 2;
        }
        if (bytes == 0) continue;
        requests++;
        bytes_requested += bytes;
        (w ? writes_req : reads_req)++;
        for (uint64_t bl = addr / burst; bl <= (addr + bytes - 1) / burst; bl++) {
            txns.push_back({bl * burst, w});
        }
    }
    uint64_t n_rd_txn = 0, n_wr_txn = 0;
    for (auto &t : txns) (t.is_write ? n_wr_txn : n_rd_txn)++;

    // ---- simulate ----
    uint64_t clk = 0, next = 0;
    uint64_t reads_returned = 0, writes_acked = 0;
    uint64_t last_read_return_clk = 0, last_issue_clk = 0;
    const uint64_t kMaxCycles = 2000000000ULL;
    while (true) {
        // 1. completed transactions (same order as JedecDRAMSystem::ClockTick)
        while (true) {
            auto p = ctrl.ReturnDoneTrans(clk);
            if (p.second == 1) {
                writes_acked++;
            } else if (p.second == 0) {
                reads_returned++;
                last_read_return_clk = clk;
            } else {
                break;
            }
        }
        // 2. stop exactly when everything is done
        bool all_issued = next == txns.size();
        if (all_issued && reads_returned == n_rd_txn && writes_acked == n_wr_txn &&
            ctrl.ProbeIdle()) {
            uint64_t end = std::max(ctrl.probe_last_read_data_end_,
                                    ctrl.probe_last_write_data_end_);
            if (clk >= end) break;
        }
        // 3. issue, in order, as many as the controller accepts this cycle
        while (next < txns.size() &&
               ctrl.WillAcceptTransaction(txns[next].addr, txns[next].is_write)) {
            Transaction t(txns[next].addr, txns[next].is_write);
            ctrl.AddTransaction(t);
            last_issue_clk = clk;
            next++;
        }
        if (next == txns.size()) ctrl.probe_drain_writes_ = true;
        // 4. tick
        ctrl.ClockTick();
        clk++;
        if (clk > kMaxCycles) {
            std::cerr << "did not finish within " << kMaxCycles << " cycles\n";
            return 1;
        }
    }
    uint64_t end_clk = clk;  // first issue is at clk 0
    // same framing as BaseDRAMSystem::PrintStats for one channel: {"0": {...}}
    { std::ofstream j(config.json_stats_name, std::ofstream::out); j << "{"; }
    ctrl.PrintFinalStats();
    { std::ofstream j(config.json_stats_name, std::ofstream::app); j << "}"; }

    double tck = config.tCK;
    std::printf(
        "pattern=%s requests=%llu read_requests=%llu write_requests=%llu "
        "bytes_requested=%llu read_txns=%llu write_txns=%llu burst_bytes=%llu "
        "end_clk=%llu time_ns=%.4f last_issue_clk=%llu last_read_return_clk=%llu "
        "last_read_data_end_clk=%llu last_write_data_end_clk=%llu first_cmd_clk=%llu "
        "rw_cmds=%llu probe_row_hits=%llu probe_row_misses=%llu probe_row_conflicts=%llu "
        "demand_pres=%llu refresh_pres=%llu tck_ns=%.4f\n",
        name.c_str(), (unsigned long long)requests, (unsigned long long)reads_req,
        (unsigned long long)writes_req, (unsigned long long)bytes_requested,
        (unsigned long long)n_rd_txn, (unsigned long long)n_wr_txn,
        (unsigned long long)burst, (unsigned long long)end_clk, end_clk * tck,
        (unsigned long long)last_issue_clk, (unsigned long long)last_read_return_clk,
        (unsigned long long)ctrl.probe_last_read_data_end_,
        (unsigned long long)ctrl.probe_last_write_data_end_,
        (unsigned long long)ctrl.probe_first_cmd_clk_,
        (unsigned long long)ctrl.probe_rw_cmds_, (unsigned long long)ctrl.probe_row_hits_,
        (unsigned long long)ctrl.probe_row_misses_,
        (unsigned long long)ctrl.probe_row_conflicts_,
        (unsigned long long)ctrl.probe_demand_pres_,
        (unsigned long long)ctrl.probe_refresh_pres_, tck);
    return 0;
}
