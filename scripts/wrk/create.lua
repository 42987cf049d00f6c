-- POST /api/incidents with a bearer token: each request a new incident at one of the
-- land points of $WRK_POINTS (lon,lat per line, e.g. regency label points), slightly
-- moved, with its own Idempotency-Key. done() prints one RESULT line like the shared
-- cycle.lua.
local points = {}
for line in io.lines(os.getenv("WRK_POINTS")) do
  local lon, lat = line:match("([%-%d%.]+),([%-%d%.]+)")
  if lon then points[#points + 1] = {tonumber(lon), tonumber(lat)} end
end
local token = os.getenv("WRK_TOKEN")
local counter = 0
local run = os.getenv("WRK_RUN") or tostring(os.time())
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(1000 + (tid or 0))
end

function request()
  counter = counter + 1
  local p = points[math.random(#points)]
  local lon = p[1] + (math.random() - 0.5) * 0.002
  local lat = p[2] + (math.random() - 0.5) * 0.002
  local body = string.format(
    '{"type":"Feature","geometry":{"type":"Point","coordinates":[%.6f,%.6f]},' ..
    '"properties":{"category":"agraria","severity":%d,"occurred_at":"2026-11-01T10:00:00+07:00","source":"beban","description":"uji beban"}}',
    lon, lat, math.random(5))
  return wrk.format("POST", "/api/incidents", {
    ["Content-Type"] = "application/geo+json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = string.format("load-%s-%d-%d", run, tid or 0, counter),
  }, body)
end

function response(status, headers, body)
  if status ~= 201 then
    wrk.thread:set("bad", (wrk.thread:get("bad") or 0) + 1)
    if not wrk.thread:get("sample") then
      wrk.thread:set("sample", status .. " " .. string.sub(body, 1, 300))
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("bad") or 0)
    if t:get("sample") then io.write("first refusal: " .. t:get("sample") .. "\n") end
  end
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f rps=%.2f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f not_201=%d err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, bad, e.connect, e.read, e.write, e.status, e.timeout))
end
