-- scrapeguard: apply one event's updates atomically and return the counters after it.
-- ARGV[1]: JSON (see scrapeguard/stores/base.py EventUpdate, serialised by stores/redis.py).
-- Distinct counts are HyperLogLogs, one per (feature, weight), so a weighted count is the sum
-- of weight x PFCOUNT over the weights seen.
local p = cjson.decode(ARGV[1])
local prefix = p.prefix
local now = p.now
-- State lapses by event time, as on memory:// (a log replayed or followed behind the clock
-- counts as it did live); the keys' own time to live (the clock) only clears them away.
-- Counters, campaign evidence and taints are keyed by their window, bucket or day, which ends
-- before their time to live does: only a previous id and an actor's exposure need this.

local function weighted(base, feature)
  local total = 0
  for _, w in ipairs(redis.call('SMEMBERS', base .. ':ws:' .. feature)) do
    total = total + tonumber(w) * redis.call('PFCOUNT', base .. ':h:' .. feature .. ':' .. w)
  end
  return total
end

-- With no `ttl`, the caller sets the sets' expiry itself (`renew`).
local function add_distinct(base, feature, value, weight, ttl)
  local hll = base .. ':h:' .. feature .. ':' .. weight
  redis.call('PFADD', hll, value)
  redis.call('SADD', base .. ':ws:' .. feature, weight)
  if ttl then
    redis.call('PEXPIRE', hll, ttl)
    redis.call('PEXPIRE', base .. ':ws:' .. feature, ttl)
  end
end

-- A counter set lives its time to live from when it was started, however often it is
-- written since (as on memory://); returns the milliseconds it has left, which its distinct
-- sets are given so that they lapse with it.
local function started(key, ttl)
  local left = redis.call('PTTL', key)
  if left < 0 then
    redis.call('PEXPIRE', key, ttl)
    return ttl
  end
  return left
end

-- Empty an actor's exposure whose event-time expiry (`_e`) has passed, with its distinct
-- sets.
local function lapse(key, feature)
  local expiry = redis.call('HGET', key, '_e')
  if expiry and tonumber(expiry) < now then
    for _, w in ipairs(redis.call('SMEMBERS', key .. ':ws:' .. feature)) do
      redis.call('DEL', key .. ':h:' .. feature .. ':' .. w)
    end
    redis.call('DEL', key .. ':ws:' .. feature, key)
  end
end

-- Unlike a window's counters, an actor's exposure lives its time to live after its last
-- request (as on memory://): a decision reports the actor's totals so far, however long it
-- keeps coming. Renew it, by event time (`_e`) and by the clock, with all its distinct sets.
local function renew(key, feature, ttl)
  redis.call('HSET', key, '_e', string.format('%d', now + ttl))
  redis.call('PEXPIRE', key, ttl)
  local weights = key .. ':ws:' .. feature
  for _, w in ipairs(redis.call('SMEMBERS', weights)) do
    redis.call('PEXPIRE', key .. ':h:' .. feature .. ':' .. w, ttl)
  end
  redis.call('PEXPIRE', weights, ttl)
end

local step = 0
if p.seq then
  local key = prefix .. p.seq.key
  local previous = redis.call('GET', key)
  redis.call('SET', key, p.seq.id .. ' ' .. string.format('%d', now + p.seq.ttl), 'PX', p.seq.ttl)
  if previous then
    local id, expiry = string.match(previous, '^(%S+) (%d+)$')
    if id == nil then id = previous end  -- kept by an older script, without its expiry
    if expiry == nil or tonumber(expiry) >= now then
      for _, near in ipairs(p.seq.near) do
        if near == id then step = 1 end
      end
    end
  end
end

local member = false
if p.member then
  local key = prefix .. p.member.key
  local s = redis.call('HINCRBY', key, 's', step)
  local m = redis.call('HINCRBY', key, 'm', p.member.miss)
  local l = redis.call('HINCRBY', key, 'l', 1)
  redis.call('PEXPIRE', key, p.member.ttl)
  local share = l * p.member.ratio
  member = ((s >= p.member.min) and (s >= share)) or
           ((m >= p.member.min_misses) and (m >= share))
end

local thin = false
if p.thin then
  local taint = prefix .. p.thin.taint
  if p.thin.tainting == true then redis.call('SET', taint, '1', 'PX', p.thin.ttl) end
  if p.thin.key and p.thin.key ~= cjson.null then
    local key = prefix .. p.thin.key
    local n = redis.call('INCR', key)
    redis.call('PEXPIRE', key, p.thin.ttl)
    thin = (n >= p.thin.min) and (redis.call('EXISTS', taint) == 0)
  end
end
local links = {enum = member, thin = thin}

local groups = {}
for _, g in ipairs(p.groups) do
  if (not g.campaign) or g.campaign == cjson.null or links[g.campaign] then
    local key = prefix .. g.key
    for column, amount in pairs(g.sums) do redis.call('HINCRBY', key, column, amount) end
    if step ~= 0 then redis.call('HINCRBY', key, 'is_seq_step', step) end
    local left = started(key, g.ttl)
    for _, d in ipairs(g.distinct) do
      add_distinct(key, d[1], d[2], d[3], left)
    end
    if g.gap and g.gap ~= cjson.null then
      local last = redis.call('HGET', key, '_last')
      if last then
        local gap = (g.gap - tonumber(last)) / 1000.0
        redis.call('HINCRBY', key, '_gap_n', 1)
        redis.call('HINCRBYFLOAT', key, '_gap_s1', tostring(gap))
        redis.call('HINCRBYFLOAT', key, '_gap_s2', tostring(gap * gap))
      end
      redis.call('HSET', key, '_last', string.format('%d', g.gap))
    end
    local values = {}
    local flat = redis.call('HGETALL', key)
    for i = 1, #flat, 2 do
      if flat[i] ~= '_last' then values[flat[i]] = tonumber(flat[i + 1]) end
    end
    for _, feature in ipairs(g.features) do values[feature] = weighted(key, feature) end
    groups[g.key] = values
  end
end

local before, requests = {}, {}
for actor, items in pairs(p.exposure) do
  local link = p.exposure_link[actor]
  if link == nil or links[link] then
  local key = prefix .. 'x:' .. actor
  lapse(key, 'subjects')
  before[actor] = weighted(key, 'subjects')
  requests[actor] = redis.call('HINCRBY', key, 'requests', 1)
  for _, item in ipairs(items) do add_distinct(key, 'subjects', item[1], item[2]) end
  renew(key, 'subjects', p.exposure_ttl)
  end
end

-- A log follower's position, counted in the same atomic step as the event it follows.
if p.mark then
  redis.call('SET', prefix .. 'w:' .. p.mark.key, string.format('%d', p.mark.value))
end

return cjson.encode({step = step, member = member, thin = thin, groups = groups,
                     before = before, requests = requests})
