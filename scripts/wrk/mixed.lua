-- The mixed load of issue 8: each request, drawn at random, is a vector tile (85 %:
-- a tile of $WRK_TILES, z/x/y per line, from the `sipks` or `kabupaten_kota` source,
-- gzip accepted as a browser does), the regencies' risk (/api/risk, 10 %) or a new
-- incident (5 %: POST /api/incidents as a nasional user, $WRK_TOKEN, at one of the land
-- points of $WRK_POINTS moved a little, that occurred in the last week, with its own
-- Idempotency-Key).
--
-- Run with one connection per thread (wrk -tN -cN): each response() then follows its
-- own request(), so the script times every request by its kind (CLOCK_MONOTONIC
-- through LuaJIT's ffi) into a histogram per thread (0.1 ms buckets below 20 ms, 1 ms
-- below 1 s); done() merges them and prints one RESULT line per kind (count, refused =
-- not 2xx/3xx, p50/p99/max, each the upper end of its bucket) and one for wrk's own
-- socket errors.
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
-- The shares of writes and of risk requests (the rest are tiles), for diagnosis.
local write_share = tonumber(os.getenv("WRK_WRITES") or "0.05")
local risk_share = tonumber(os.getenv("WRK_RISK") or "0.10")
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

-- Per thread: the request in flight; the histogram and counts by kind are globals of
-- numbers and strings (h<kind><bucket>, count_<kind>, ...), the only values wrk's
-- thread:get() copies safely (it mishandles tables).
local kind, started, counter = nil, 0, 0

function init(args)
  math.randomseed(4242 + (tid or 0))
  for _, k in ipairs(kinds) do
    _G["count_" .. k], _G["refused_" .. k], _G["top_" .. k] = 0, 0, -1
  end
end

-- Buckets of 0.1 ms below 20 ms, of 1 ms below 1 s, of 100 ms above (up to 11 s).
local function bucket(us)
  local ms = us / 1000
  if ms < 20 then return math.floor(ms * 10) end
  if ms < 1000 then return 180 + math.floor(ms) end
  return 1170 + math.min(math.floor(ms / 100), 110)
end

-- The upper end of a bucket, in ms.
local function bucket_ms(b)
  if b < 200 then return (b + 1) / 10 end
  if b < 1180 then return b - 180 + 1 end
  return (b - 1170 + 1) * 100
end

function request()
  local r = math.random()
  local req
  if r < write_share then
    kind = "write"
    counter = counter + 1
    local p = points[math.random(#points)]
    local body = string.format(
      '{"type":"Feature","geometry":{"type":"Point","coordinates":[%.6f,%.6f]},' ..
      '"properties":{"category":"ekonomi","severity":%d,"occurred_at":"%s",' ..
      '"source":"beban campuran","description":"uji beban campuran"}}',
      p[1] + (math.random() - 0.5) * 0.002, p[2] + (math.random() - 0.5) * 0.002, math.random(5),
      -- Within the last week, as operators record what just happened: inside the
      -- map's window, so that each write changes its region's figures and tiles.
      os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - math.random(0, 7 * 86400)))
    req = wrk.format("POST", "/api/incidents", {
      ["Content-Type"] = "application/geo+json",
      ["Authorization"] = "Bearer " .. token,
      ["Idempotency-Key"] = string.format("campuran-%s-%d-%d", run, tid or 0, counter),
    }, body)
  elseif r < write_share + risk_share then
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
  local b = bucket(now_us() - started)
  local name = "h" .. kind .. b
  _G[name] = (_G[name] or 0) + 1
  if b > _G["top_" .. kind] then _G["top_" .. kind] = b end
  _G["count_" .. kind] = _G["count_" .. kind] + 1
  if status < 200 or status >= 400 then
    _G["refused_" .. kind] = _G["refused_" .. kind] + 1
    if not _G["sample_" .. kind] then _G["sample_" .. kind] = status .. " " .. string.sub(body or "", 1, 200) end
  end
end

function done(summary, latency, requests)
  for _, k in ipairs(kinds) do
    local h, total, bad, first, top = {}, 0, 0, nil, -1
    for _, t in ipairs(threads) do
      local thread_top = t:get("top_" .. k)
      for b = 0, thread_top do
        local n = t:get("h" .. k .. b)
        if n then h[b] = (h[b] or 0) + n end
      end
      if thread_top > top then top = thread_top end
      total = total + t:get("count_" .. k)
      bad = bad + t:get("refused_" .. k)
      first = first or t:get("sample_" .. k)
    end
    -- The upper end of the bucket holding the request at `share` of them, in ms.
    local function percentile(share)
      local seen = 0
      for b = 0, top do
        seen = seen + (h[b] or 0)
        if seen >= share * total then return bucket_ms(b) end
      end
      return 0
    end
    io.write(string.format("RESULT kind=%s requests=%d share=%.4f rps=%.1f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f refused=%d\n",
      k, total, total / math.max(summary.requests, 1), total / (summary.duration / 1e6),
      percentile(0.5), percentile(0.99), top >= 0 and bucket_ms(top) or 0, bad))
    if first then io.write("first refusal (" .. k .. "): " .. first .. "\n") end
  end
  local e = summary.errors
  io.write(string.format("RESULT kind=all requests=%d duration_s=%.1f rps=%.1f err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    e.connect, e.read, e.write, e.status, e.timeout))
end
