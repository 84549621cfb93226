-- Count one CloudEvent exactly once and move the job's live status forward only.
-- KEYS[1] dedupe marker for source+id   KEYS[2] per-job hash   KEYS[3] totals by status
-- KEYS[4] totals by type               KEYS[5] throughput bucket of this second
-- KEYS[6] latency histogram (ms bucket upper bound -> count)   KEYS[7] meta hash
-- ARGV: status, rank, job type, phase, event time (epoch ms), dedupe ttl s, job ttl s,
--       bucket ttl s, then the latency bucket upper bounds in ms, ascending
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[6])) == false then
  return 0
end
local status, rank, jtype, phase = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local now_ms = tonumber(ARGV[5])
redis.call('HSETNX', KEYS[2], phase .. '_at', now_ms)
local old_status = redis.call('HGET', KEYS[2], 'status')
local old_rank = tonumber(redis.call('HGET', KEYS[2], 'rank') or '-1')
if rank > old_rank then
  if old_status then
    redis.call('HINCRBY', KEYS[3], old_status, -1)
  else
    redis.call('HINCRBY', KEYS[4], jtype, 1)
    redis.call('HINCRBY', KEYS[3], 'TOTAL', 1)
  end
  redis.call('HINCRBY', KEYS[3], status, 1)
  redis.call('HSET', KEYS[2], 'status', status, 'rank', rank, 'type', jtype)
end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[7]))
if phase == 'completed' or phase == 'failed' or phase == 'deadlettered' then
  redis.call('INCR', KEYS[5])
  redis.call('EXPIRE', KEYS[5], tonumber(ARGV[8]))
end
-- End-to-end latency, once per job, whichever of its events arrives last.
local submitted = redis.call('HGET', KEYS[2], 'submitted_at')
local finished = redis.call('HGET', KEYS[2], 'completed_at') or redis.call('HGET', KEYS[2], 'failed_at')
if submitted and finished and redis.call('HSETNX', KEYS[2], 'latency_ms', tonumber(finished) - tonumber(submitted)) == 1 then
  local latency = tonumber(finished) - tonumber(submitted)
  local bucket = '+Inf'
  for i = 9, #ARGV do
    if latency <= tonumber(ARGV[i]) then bucket = ARGV[i]; break end
  end
  redis.call('HINCRBY', KEYS[6], bucket, 1)
  redis.call('HINCRBY', KEYS[7], 'latency_count', 1)
  redis.call('HINCRBYFLOAT', KEYS[7], 'latency_sum_ms', latency)
end
local last = tonumber(redis.call('HGET', KEYS[7], 'last_event_ms') or '0')
if now_ms > last then
  redis.call('HSET', KEYS[7], 'last_event_ms', now_ms)
end
return 1
