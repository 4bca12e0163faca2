-- wrk script: add the bearer token and print the figures bench/health.py reads (wrk runs for a fixed duration).
local token = os.getenv("WRK_BEARER") or ""

init = function(args)
  if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %.0f %.0f %.0f %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status, summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
