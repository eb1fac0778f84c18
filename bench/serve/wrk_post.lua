-- wrk: POST one JSON body per request, cycling through the lines of
-- WRK_BODIES (one JSON body per line); writes a JSON summary to WRK_OUT.
local bodies = {}
local i = 0

function init(args)
  for line in io.lines(os.getenv("WRK_BODIES")) do bodies[#bodies + 1] = line end
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", os.getenv("WRK_PATH"), {["Content-Type"] = "application/json"}, bodies[i])
end

function done(summary, latency, requests)
  local f = io.open(os.getenv("WRK_OUT"), "w")
  local e = summary.errors
  f:write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.2f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
  f:close()
end
