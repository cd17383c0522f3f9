-- scrapeguard: each actor's lifetime exposure as record.lua counts it, for a decision's totals.
-- KEYS: the actors' exposure keys (prefix .. 'x:' .. actor). Returns, per key, {requests,
-- records}, records being the sum of weight x PFCOUNT over the weights seen; {} when unknown.
local out = {}
for i, key in ipairs(KEYS) do
  local requests = redis.call('HGET', key, 'requests')
  if requests then
    local total = 0
    for _, w in ipairs(redis.call('SMEMBERS', key .. ':ws:subjects')) do
      total = total + tonumber(w) * redis.call('PFCOUNT', key .. ':h:subjects:' .. w)
    end
    out[i] = {tonumber(requests), total}
  else
    out[i] = {}
  end
end
return out
