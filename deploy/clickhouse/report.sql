-- The readiness report of `helloscope report`, over every sensor's records in
-- helloscope.flows. Three queries, as the report's three parts: the headline per policy, the
-- clients that break or fail (per policy, sensor, client, host, stack), and per stack.
-- A client is an address and JA4 at one sensor; verdicts rank ready < breaks < failing.
-- Restrict to a period with `AND ts >= now() - INTERVAL 30 DAY` in each WHERE.

-- 1. Headline: per policy, clients that break (or already fail), and those already failing.
SELECT
    policy.profile AS profile,
    uniqExactIf((sensor, client_ip, ja4), policy.verdict IN ('breaks', 'failing')) AS clients,
    uniqExactIf((sensor, client_ip, ja4), policy.verdict = 'failing') AS already_failing
FROM helloscope.flows
WHERE policy.profile != ''
GROUP BY profile
ORDER BY profile;

-- 2. The clients that break or fail: one row per policy, sensor, client, JA4 and host.
SELECT
    arrayElement(['ready', 'breaks', 'failing'],
        max(indexOf(['ready', 'breaks', 'failing'], policy.verdict))) AS verdict,
    policy.profile AS profile,
    sensor,
    if(IPv6CIDRToRange(client_ip, 96).1 = toIPv6('::ffff:0.0.0.0'),
        IPv4NumToString(toUInt32(bitAnd(toUInt128(client_ip), 0xffffffff))),
        toString(client_ip)) AS client,
    ifNull(ja4, '-') AS ja4_,
    any(if(stack.confidence = '', '-',
        if(stack.family IS NULL, 'unknown',
            if(stack.application IS NULL, assumeNotNull(stack.family),
                concat(assumeNotNull(stack.family), ' (', assumeNotNull(stack.application), ')')))))
        AS stack_label,
    ifNull(sni, concat(
        if(IPv6CIDRToRange(server_ip, 96).1 = toIPv6('::ffff:0.0.0.0'),
            IPv4NumToString(toUInt32(bitAnd(toUInt128(server_ip), 0xffffffff))),
            toString(server_ip)),
        ' (no SNI)')) AS host,
    count() AS flows,
    arrayStringConcat(arraySort(groupUniqArrayArray(policy.findings.code)), ',') AS findings,
    min(ts) AS first_seen,
    max(ts) AS last_seen
FROM helloscope.flows
WHERE policy.profile != ''
GROUP BY profile, sensor, client, ja4_, host
HAVING verdict IN ('breaks', 'failing')
ORDER BY profile, stack_label, verdict DESC, sensor, client, ja4_, host;

-- 3. Per stack: its clients, how many are below the minimum (a policy's breaks or failing;
-- with no policy over the host, offering at most TLS 1.1), and what to change.
SELECT
    stack_label,
    uniqExact(client) AS clients,
    uniqExactIf(client, problem) AS below_minimum,
    arraySort(groupUniqArrayArrayIf(remediations, problem)) AS what_to_change
FROM
(
    SELECT
        (sensor, client_ip, ja4) AS client,
        any(if(stack.confidence = '', '-',
            if(stack.family IS NULL, 'unknown',
                if(stack.application IS NULL, assumeNotNull(stack.family),
                    concat(assumeNotNull(stack.family), ' (', assumeNotNull(stack.application), ')')))))
            AS stack_label,
        max(policy.verdict IN ('breaks', 'failing'))
            OR (policy.profile = ''
                AND countIf(version_offered_max IS NOT NULL) > 0
                AND countIf(version_offered_max NOT IN ('SSL 2.0', 'SSL 3.0', 'TLS 1.0', 'TLS 1.1')) = 0)
            AS problem,
        groupUniqArrayArray(arrayFilter(r -> r != '', arrayMap(f -> ifNull(f.remediation, ''),
            arrayFilter(f -> f.code = 'below_minimum', policy.findings)))) AS remediations
    FROM helloscope.flows
    GROUP BY policy.profile, sensor, client_ip, ja4, ifNull(sni, toString(server_ip))
)
GROUP BY stack_label
ORDER BY stack_label;
