-- bench/lib/replay.lua — wrk script: replay a list of request targets in a loop.
--
--   wrk -t2 -c16 -d10s -s bench/lib/replay.lua http://127.0.0.1:PORT -- PATHS [NTHREADS]
--
-- PATHS holds one request target a line ("/tiles/lanester/14/8368/5982.mvt",
-- "/wms?SERVICE=WMS&..."); empty lines and "#" comments are skipped. Thread k
-- of NTHREADS starts at offset k*N/NTHREADS and walks the list in order,
-- wrapping around, so every target is asked as often as the others and the
-- threads do not ask the same one at the same moment. Headers given to wrk
-- with -H (e.g. Accept-Encoding) go with every request.
--
-- At the end it prints one line:
--   BENCH {"requests":…,"rps":…,"p50_ms":…,"p90_ms":…,"p99_ms":…,"max_ms":…,
--          "non2xx":…,"sock_errors":…,"bytes":…}
-- non2xx counts answers outside 200–399 (wrk's "status" errors);
-- sock_errors sums connect, read, write and timeout errors.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file = args[1]
  if not file then error("replay.lua: wrk ... -- PATHS [NTHREADS]") end
  local nthreads = tonumber(args[2]) or 1
  local list = {}
  for line in io.lines(file) do
    if line ~= "" and line:sub(1, 1) ~= "#" then
      list[#list + 1] = wrk.format(nil, line)
    end
  end
  if #list == 0 then error("replay.lua: no request in " .. file) end
  reqs = list
  pos = math.floor(#list * (tid % nthreads) / nthreads)
end

function request()
  pos = pos % #reqs + 1
  return reqs[pos]
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'BENCH {"requests":%d,"duration_s":%.2f,"rps":%.1f,"p50_ms":%.2f,"p90_ms":%.2f,' ..
    '"p99_ms":%.2f,"max_ms":%.2f,"non2xx":%d,"sock_errors":%d,"bytes":%d}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout, summary.bytes))
end
