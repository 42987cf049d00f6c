-- The mixed load of issue 8: each request, drawn at random, is a vector tile (85 %:
-- a tile of $WRK_TILES, z/x/y per line, from the `sipks` or `kabupaten_kota` source,
-- gzip accepted as a browser does), the regencies' risk (/api/risk, 10 %) or a new
-- incident (5 %: POST /api/incidents as a nasional user, $WRK_TOKEN, at one of the land
-- points of $WRK_POINTS moved a little, with its own Idempotency-Key).
--
-- Run with one connection per thread (wrk -tN -cN): each response() then follows its
-- own request(), so the script times every request by its kind (CLOCK_MONOTONIC
-- through LuaJIT's ffi) into a histogram of 0.1 ms buckets per thread; done() merges
-- them and prints one RESULT line per kind (count, refused = not 2xx/3xx, p50/p99/max)
-- and one for wrk's own socket errors.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } sipks_timespec;
  int clock_gettime(int clock, sipks_timespec *now);
]]
local clock = ffi.new("sipks_timespec[1]")
local function now_us()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock[0].tv_sec) * 1e6 + tonumber(clock[0].tv_nsec) / 1e3
end

local tiles, points = {}, {}
for line in io.lines(os.getenv("WRK_TILES")) do
  if line:match("^%d+/%d+/%d+$") then tiles[#tiles + 1] = line end
end
for line in io.lines(os.getenv("WRK_POINTS")) do
  local lon, lat = line:match("([%-%d%.]+),([%-%d%.]+)")
  if lon then points[#points + 1] = {tonumber(lon), tonumber(lat)} end
end
local token = os.getenv("WRK_TOKEN")
local run = os.getenv("WRK_RUN") or tostring(os.time())
local sources = {"sipks", "kabupaten_kota"}
local kinds = {"tile", "risk", "write"}
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

-- Per thread: the histogram and counts of each kind, the request in flight.
hist, count, refused, sample = {}, {}, {}, {}
local kind, started, counter = nil, 0, 0

function init(args)
  math.randomseed(4242 + (tid or 0))
  for _, k in ipairs(kinds) do
    hist[k], count[k], refused[k] = {}, 0, 0
  end
end

function request()
  local r = math.random()
  local req
  if r < 0.05 then
    kind = "write"
    counter = counter + 1
    local p = points[math.random(#points)]
    local body = string.format(
      '{"type":"Feature","geometry":{"type":"Point","coordinates":[%.6f,%.6f]},' ..
      '"properties":{"category":"ekonomi","severity":%d,"occurred_at":"2026-01-05T10:00:00+07:00",' ..
      '"source":"beban campuran","description":"uji beban campuran"}}',
      p[1] + (math.random() - 0.5) * 0.002, p[2] + (math.random() - 0.5) * 0.002, math.random(5))
    req = wrk.format("POST", "/api/incidents", {
      ["Content-Type"] = "application/geo+json",
      ["Authorization"] = "Bearer " .. token,
      ["Idempotency-Key"] = string.format("campuran-%s-%d-%d", run, tid or 0, counter),
    }, body)
  elseif r < 0.15 then
    kind = "risk"
    req = wrk.format("GET", "/api/risk?level=kabupaten_kota", {["Accept-Encoding"] = "gzip"})
  else
    kind = "tile"
    local path = "/tiles/" .. sources[math.random(#sources)] .. "/" .. tiles[math.random(#tiles)] .. ".mvt"
    req = wrk.format("GET", path, {["Accept-Encoding"] = "gzip"})
  end
  started = now_us()
  return req
end

function response(status, headers, body)
  local bucket = math.floor((now_us() - started) / 100)
  local h = hist[kind]
  h[bucket] = (h[bucket] or 0) + 1
  count[kind] = count[kind] + 1
  if status < 200 or status >= 400 then
    refused[kind] = refused[kind] + 1
    if not sample[kind] then sample[kind] = status .. " " .. string.sub(body or "", 1, 200) end
  end
end

-- The smallest bucket (ms) below which at least `share` of the requests fall.
local function percentile(h, total, share)
  local buckets = {}
  for b in pairs(h) do buckets[#buckets + 1] = b end
  table.sort(buckets)
  local seen = 0
  for _, b in ipairs(buckets) do
    seen = seen + h[b]
    if seen >= share * total then return (b + 1) / 10 end
  end
  return 0
end

function done(summary, latency, requests)
  for _, k in ipairs(kinds) do
    local h, total, bad, first = {}, 0, 0, nil
    for _, t in ipairs(threads) do
      for b, n in pairs(t:get("hist")[k]) do h[b] = (h[b] or 0) + n end
      total = total + t:get("count")[k]
      bad = bad + t:get("refused")[k]
      first = first or t:get("sample")[k]
    end
    local max = 0
    for b in pairs(h) do if b > max then max = b end end
    io.write(string.format("RESULT kind=%s requests=%d share=%.4f rps=%.1f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f refused=%d\n",
      k, total, total / math.max(summary.requests, 1), total / (summary.duration / 1e6),
      percentile(h, total, 0.5), percentile(h, total, 0.99), (max + 1) / 10, bad))
    if first then io.write("first refusal (" .. k .. "): " .. first .. "\n") end
  end
  local e = summary.errors
  io.write(string.format("RESULT kind=all requests=%d duration_s=%.1f rps=%.1f err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    e.connect, e.read, e.write, e.status, e.timeout))
end
