# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_stampede_global_optspecs
    string join \n h/help V/version
end

function __fish_stampede_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_stampede_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_stampede_using_subcommand
    set -l cmd (__fish_stampede_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c stampede -n "__fish_stampede_needs_command" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_needs_command" -s V -l version -d 'Print version'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "run" -d 'Run a scenario once: prints a summary and writes summary.json, summary.md, timeseries.csv, report.html and latency.hlog'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "mock" -d 'Serve the Gemini-compatible mock on 127.0.0.1'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "report" -d 'Re-render summary.md, timeseries.csv, report.html and latency.hlog from a saved summary.json'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "validate" -d 'Check a scenario file without running it'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "traffic" -d 'Show the arrival profile and request mix a scenario would send, without sending anything'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "compare" -d 'Run several strategies on identical traffic and compare them side by side'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "plan" -d 'Find the fewest workers that meet the scenario\'s [slo], per candidate calling plan'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "proxy" -d 'Forward an application\'s calls to Gemini (or the mock), record them as a replayable trace, and optionally inject 429s, 503s and latency'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "calibrate" -d 'Fit a mock profile (latency vs input, decode speed, answer lengths, errors, quotas, token density) to recordings of real calls, with goodness of fit'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "merge" -d 'Merge the summaries of a run\'s shards (`run --shard I/N`) into the run\'s reports'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "diff" -d 'Compare two saved runs (summary.json) metric by metric; exit 1 on a regression'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "bench" -d 'Measure stampede itself on this machine'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "catalog" -d 'Print the model catalog in force: models, prices, tier presets\' limits and caps, and where and when each figure was read'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "completions" -d 'Print a shell completion script: bash, zsh, fish, elvish or powershell'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "man" -d 'Print the man page (roff), e.g. `stampede man > /usr/local/share/man/man1/stampede.1`'
complete -c stampede -n "__fish_stampede_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stampede -n "__fish_stampede_using_subcommand run" -l target -d 'Target instead of the scenario\'s' -r -f -a "sim\t''
mock\t''
gemini\t''
openai\t''"
complete -c stampede -n "__fish_stampede_using_subcommand run" -l base-url -d 'Endpoint for gemini/openai targets' -r
complete -c stampede -n "__fish_stampede_using_subcommand run" -l out -d 'Output folder [default: reports/<scenario name>/]' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand run" -l seed -d 'Seed instead of the scenario\'s' -r
complete -c stampede -n "__fish_stampede_using_subcommand run" -l duration -d 'Traffic window instead of the scenario\'s (for example 10s)' -r
complete -c stampede -n "__fish_stampede_using_subcommand run" -l max-cost-usd -d 'Spend cap in USD: refuse to start when the estimate is above it, stop sending when answered attempts reach it [default: the scenario\'s, else $1 for a billed target]' -r
complete -c stampede -n "__fish_stampede_using_subcommand run" -l max-requests -d 'Schedule at most this many requests' -r
complete -c stampede -n "__fish_stampede_using_subcommand run" -l shard -d 'Run shard I of N (from 0) of the seeded schedule: the requests the load balancer gives to replica I of N (`stampede merge` adds the shards up)' -r
complete -c stampede -n "__fish_stampede_using_subcommand run" -l start-at -d 'Wait until this instant (RFC 3339 UTC, e.g. 2026-12-03T14:00:00Z) before sending, so shards on several machines start together (live targets; the simulator has no wall clock to meet)' -r
complete -c stampede -n "__fish_stampede_using_subcommand run" -l metrics-addr -d 'Serve live Prometheus metrics at http://HOST:PORT/metrics while the runs go' -r
complete -c stampede -n "__fish_stampede_using_subcommand run" -l metrics-linger -d 'Keep serving --metrics-addr this long after the runs, so a last scrape sees the final counts (at most 1h)' -r
complete -c stampede -n "__fish_stampede_using_subcommand run" -l catalog -d 'A catalog file extending the embedded one (models, prices, tier presets); `stampede catalog --file FILE` shows the result' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand run" -l json -d 'Print summary.json to stdout instead of the table'
complete -c stampede -n "__fish_stampede_using_subcommand run" -s q -l quiet -d 'No progress display'
complete -c stampede -n "__fish_stampede_using_subcommand run" -l png -d 'Also write each chart as a PNG into OUT/png/ (for slides and READMEs)'
complete -c stampede -n "__fish_stampede_using_subcommand run" -l dry-run -d 'Print the request, token and cost estimate, and send nothing'
complete -c stampede -n "__fish_stampede_using_subcommand run" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l port -d 'Port to listen on (0 picks a free one)' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l bind -d 'Address to bind; loopback unless you mean to expose the mock' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l profile -d 'A preset (free, free-2025, free-2026, tier1, tier2, tier3, unlimited) or a profile .toml file' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l seed -d 'Seed for latency, faults and answer lengths' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l request-log -d 'Append one JSON line per request to this file (API keys are never written)' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l record -d 'Record each generate request an application sends as a line of stampede\'s trace format (replayed by `arrival = "trace"`, format "jsonl"; read by `stampede calibrate`). No prompt text, header or key is written' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l catalog -d 'A catalog file extending the embedded one (models, prices, tier presets); `stampede catalog --file FILE` shows the result' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l max-connections -d 'Most connections open at once; past it the quietest idle one is closed to make room' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l header-timeout -d 'Longest time from a request\'s first byte to the end of its head (slowloris)' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l idle-timeout -d 'Longest time a connection with no request in flight may stay quiet' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l max-body-mib -d 'Largest request body in MiB (Gemini\'s inline-request limit is 20 MB)' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l body-budget-mib -d 'Request-body bytes all connections may hold at once, in MiB (503 past it)' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l body-rate-floor -d 'Slowest request body accepted, in bytes per second over each window (408 below it)' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l body-rate-window -d 'The window over which a body\'s rate is judged' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l cache-budget-mib -d 'Bytes all keys\' explicit caches may hold, in MiB' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l cache-key-budget-mib -d 'Bytes one API key\'s explicit caches may hold, in MiB' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l batch-budget-mib -d 'Bytes all keys\' batch jobs may hold, in MiB' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l batch-key-budget-mib -d 'Bytes one API key\'s batch jobs may hold, in MiB' -r
complete -c stampede -n "__fish_stampede_using_subcommand mock" -l record-prompts -d 'Keep the prompts\' text in the recording (off by default: prompts may be private)'
complete -c stampede -n "__fish_stampede_using_subcommand mock" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand report" -l out -d 'Output folder [default: the summary\'s folder]' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand report" -l png -d 'Also write each chart as a PNG into OUT/png/ (for slides and READMEs)'
complete -c stampede -n "__fish_stampede_using_subcommand report" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand validate" -l catalog -d 'A catalog file extending the embedded one (models, prices, tier presets); `stampede catalog --file FILE` shows the result' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand validate" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand traffic" -l seed -d 'Seed instead of the scenario\'s' -r
complete -c stampede -n "__fish_stampede_using_subcommand traffic" -l duration -d 'Traffic window instead of the scenario\'s' -r
complete -c stampede -n "__fish_stampede_using_subcommand traffic" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand compare" -l strategy -d 'A strategy file (a [strategy] table, optionally with `name`) or `preset:NAME`; repeat for each strategy. Without any, the scenario\'s [[strategies]] are compared' -r
complete -c stampede -n "__fish_stampede_using_subcommand compare" -l seeds -d 'Seeds per strategy (the scenario\'s seed and the ones after it)' -r
complete -c stampede -n "__fish_stampede_using_subcommand compare" -l target -d 'Target instead of the scenario\'s (`plan` uses sim unless told otherwise)' -r -f -a "sim\t''
mock\t''
gemini\t''
openai\t''"
complete -c stampede -n "__fish_stampede_using_subcommand compare" -l duration -d 'Traffic window instead of the scenario\'s' -r
complete -c stampede -n "__fish_stampede_using_subcommand compare" -l out -d 'Output folder [default: reports/<scenario name>/]' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand compare" -l max-cost-usd -d 'Spend cap in USD for all the runs together against a billed API [default: the scenario\'s, else $1]' -r
complete -c stampede -n "__fish_stampede_using_subcommand compare" -l catalog -d 'A catalog file extending the embedded one (models, prices, tier presets); `stampede catalog --file FILE` shows the result' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand compare" -l metrics-addr -d 'Serve live Prometheus metrics at http://HOST:PORT/metrics while the runs go' -r
complete -c stampede -n "__fish_stampede_using_subcommand compare" -l metrics-linger -d 'Keep serving --metrics-addr this long after the runs, so a last scrape sees the final counts (at most 1h)' -r
complete -c stampede -n "__fish_stampede_using_subcommand compare" -l json -d 'Print compare.json instead of the table'
complete -c stampede -n "__fish_stampede_using_subcommand compare" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l strategy -d 'A candidate: a strategy file or `preset:NAME`; repeat for each. Without any, the scenario\'s [[strategies]], or else its [strategy]' -r
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l seeds -d 'Seeds every worker count starts with (5 to 1000). A count passes when every objective\'s 95% interval over the seeds is on its passing side; while one straddles its target, more seeds are run, up to --max-seeds' -r
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l max-seeds -d 'The most seeds a worker count may use before it is reported undecided (at least --seeds, at most 1000)' -r
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l max-workers -d 'Largest worker count tried' -r
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l workers -d 'The worker counts to search, as `A..B` (1 ≤ A ≤ B ≤ 100000): the plan answers within them, or says none in the range met the objectives' -r
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l growth -d 'Traffic growth factors to check the best plan against, comma-separated' -r
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l probe -d 'How long to run the best plan over real HTTP (against the mock in another process) to measure the client\'s memory and CPU for "what to buy"' -r
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l replicas -d 'Size every candidate as this many client replicas each (a list: 1,4 plans each candidate once as one replica and once as four), workers searched per replica' -r
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l mock-exe -d 'The executable that serves the probe\'s mock (default: this one)' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l target -d 'Target instead of the scenario\'s (`plan` uses sim unless told otherwise)' -r -f -a "sim\t''
mock\t''
gemini\t''
openai\t''"
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l duration -d 'Traffic window instead of the scenario\'s' -r
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l out -d 'Output folder [default: reports/<scenario name>/]' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l catalog -d 'A catalog file extending the embedded one (models, prices, tier presets); `stampede catalog --file FILE` shows the result' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l search -d 'How far to search: `workers` sizes each candidate\'s workers; `full` searches the whole calling plan (retry and attempts, retry budget, rate limit, queue, attempt timeout, fallback model, service tier, replicas) over the scenario\'s `[plan]` lists or the defaults. Default: the scenario\'s `[plan] search`, else `workers`' -r -f -a "workers\t'Workers only, for each candidate'
full\t'The whole calling plan'"
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l emit -d 'Also write the recommended plan as client code on the official SDK of LANG (plan_client.py, .ts or .go in the output folder) and print the code instead of the table' -r -f -a "python\t'Python on `google-genai` (asyncio)'
typescript\t'TypeScript on `@google/genai`'
go\t'Go on `google.golang.org/genai`'"
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l max-cost-usd -d 'Spend cap in USD for all the runs together against a billed API [default: the scenario\'s, else $1]' -r
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l no-growth -d 'Skip the growth what-ifs'
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l no-probe -d 'Skip the hosting probe'
complete -c stampede -n "__fish_stampede_using_subcommand plan" -l json -d 'Print plan.json instead of the table'
complete -c stampede -n "__fish_stampede_using_subcommand plan" -s q -l quiet -d 'No progress on stderr (by default a line per worker count measured)'
complete -c stampede -n "__fish_stampede_using_subcommand plan" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c stampede -n "__fish_stampede_using_subcommand proxy" -l upstream -d 'Where to forward: the API\'s base URL, such as https://generativelanguage.googleapis.com or http://127.0.0.1:8089 (the mock). Keys travel in the application\'s requests' -r
complete -c stampede -n "__fish_stampede_using_subcommand proxy" -l port -d 'Port to listen on (0 picks a free one)' -r
complete -c stampede -n "__fish_stampede_using_subcommand proxy" -l bind -d 'Address to bind; loopback unless you mean to expose the proxy' -r
complete -c stampede -n "__fish_stampede_using_subcommand proxy" -l record -d 'Record each generate call as a line of stampede\'s trace format, with what the upstream did (no prompt text, header or key)' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand proxy" -l inject-429 -d 'Share of generate calls answered 429 by the proxy itself, in Gemini\'s body (0 to 1)' -r
complete -c stampede -n "__fish_stampede_using_subcommand proxy" -l inject-503 -d 'Share of generate calls answered 503 "The model is overloaded" by the proxy (0 to 1)' -r
complete -c stampede -n "__fish_stampede_using_subcommand proxy" -l inject-quota -d 'The per-minute quota injected 429s name (QuotaFailure quotaValue)' -r
complete -c stampede -n "__fish_stampede_using_subcommand proxy" -l inject-retry-delay -d 'The retryDelay injected 429s carry' -r
complete -c stampede -n "__fish_stampede_using_subcommand proxy" -l add-latency -d 'Time added before each generate call is forwarded (a slower region)' -r
complete -c stampede -n "__fish_stampede_using_subcommand proxy" -l seed -d 'Seed of the fault draws' -r
complete -c stampede -n "__fish_stampede_using_subcommand proxy" -l max-body-mib -d 'Largest request body forwarded, in MiB (413 past it)' -r
complete -c stampede -n "__fish_stampede_using_subcommand proxy" -l record-prompts -d 'Keep the prompts\' text in the recording (off by default: prompts may be private)'
complete -c stampede -n "__fish_stampede_using_subcommand proxy" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand calibrate" -l out -d 'The profile to write (TOML: `stampede mock --profile FILE`, or `profile = "FILE"` in a scenario\'s [target]). FILE.calibration.json and FILE.calibration.html go beside it' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand calibrate" -l preset -d 'The preset the profile patches: quotas the recording never reached stay this tier\'s' -r
complete -c stampede -n "__fish_stampede_using_subcommand calibrate" -l json -d 'Print calibration.json to stdout instead of the table'
complete -c stampede -n "__fish_stampede_using_subcommand calibrate" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand merge" -l out -d 'Output folder for the merged reports' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand merge" -l json -d 'Print the merged summary.json to stdout instead of the table'
complete -c stampede -n "__fish_stampede_using_subcommand merge" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand diff" -l threshold -d 'Override a metric\'s threshold: NAME=VALUE, e.g. p95=20%, success_rate=0.5pp, p99=250 (ms). Metrics: success_rate, p50, p95, p99, goodput_rps, share_429, dropped_share, attempts_per_request, cost_usd' -r
complete -c stampede -n "__fish_stampede_using_subcommand diff" -l out -d 'Also write the Markdown table to this file' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand diff" -l json -d 'Print the comparison as JSON instead of the table'
complete -c stampede -n "__fish_stampede_using_subcommand diff" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and not __fish_seen_subcommand_from sim mock proxy live help" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and not __fish_seen_subcommand_from sim mock proxy live help" -f -a "sim" -d 'Simulator speed: Poisson arrivals, 16 workers, an RPM quota, exponential retries'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and not __fish_seen_subcommand_from sim mock proxy live help" -f -a "mock" -d 'Mock HTTP throughput (zero latency) against a bare axum hello-world, same load generator'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and not __fish_seen_subcommand_from sim mock proxy live help" -f -a "proxy" -d 'What `stampede proxy` adds to an unloaded call: calls one at a time to a zero-latency mock, alternately direct and through a recording proxy; latency percentiles of both'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and not __fish_seen_subcommand_from sim mock proxy live help" -f -a "live" -d 'The live load generator against a zero-latency mock in its own process (or `--url`): closed-loop capacity, an open loop at a constant rate, CPU time per request, memory'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and not __fish_seen_subcommand_from sim mock proxy live help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from sim" -l rate -d 'Requests per second of simulated traffic' -r
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from sim" -l duration -d 'Simulated traffic window' -r
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from sim" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from mock" -l connections -d 'Concurrent connections of the load generator' -r
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from mock" -l duration -d 'Length of each measurement' -r
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from mock" -l rounds -d 'Measurements of each server, alternating' -r
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from mock" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from proxy" -l calls -d 'Calls on each path' -r
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from proxy" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from live" -l connections -d 'Closed-loop users (and workers of both phases)' -r
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from live" -l duration -d 'Length of each phase' -r
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from live" -l url -d 'A server on this machine to measure against instead of starting the mock' -r
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from live" -l rate -d 'Open-loop rate in requests per second (default: 0.75 × the closed loop\'s)' -r
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from live" -l http -d 'HTTP version to the server: 1.1 (keep-alive) or 2 (cleartext, one connection)' -r
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from live" -l only -d 'Run one phase only' -r -f -a "closed\t'`connections` users, each sending its next request as soon as the last is answered'
open\t'Requests at a constant rate, whatever the answers do'"
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from live" -l mock-exe -d 'The executable that serves the mock (default: this one; tests, which run the command in-process, name the built binary)' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from live" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "sim" -d 'Simulator speed: Poisson arrivals, 16 workers, an RPM quota, exponential retries'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "mock" -d 'Mock HTTP throughput (zero latency) against a bare axum hello-world, same load generator'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "proxy" -d 'What `stampede proxy` adds to an unloaded call: calls one at a time to a zero-latency mock, alternately direct and through a recording proxy; latency percentiles of both'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "live" -d 'The live load generator against a zero-latency mock in its own process (or `--url`): closed-loop capacity, an open loop at a constant rate, CPU time per request, memory'
complete -c stampede -n "__fish_stampede_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stampede -n "__fish_stampede_using_subcommand catalog; and not __fish_seen_subcommand_from check help" -l file -d 'A catalog file whose models and tiers extend (or, by name, replace) the embedded ones: shows the result' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand catalog; and not __fish_seen_subcommand_from check help" -l json -d 'Print the catalog as JSON'
complete -c stampede -n "__fish_stampede_using_subcommand catalog; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand catalog; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Ask the Models API (`GET /v1beta/models`, every page) which models this project can call and compare them with the catalog: models it lists that the catalog lacks, catalog models it no longer lists, token limits that disagree. Sends no generation traffic; exit 1 when they differ'
complete -c stampede -n "__fish_stampede_using_subcommand catalog; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stampede -n "__fish_stampede_using_subcommand catalog; and __fish_seen_subcommand_from check" -l base-url -d 'The API\'s base URL (the mock\'s, or another endpoint\'s)' -r
complete -c stampede -n "__fish_stampede_using_subcommand catalog; and __fish_seen_subcommand_from check" -l api-key-env -d 'The environment variable holding the API key [default: GEMINI_API_KEY, else GOOGLE_API_KEY]' -r
complete -c stampede -n "__fish_stampede_using_subcommand catalog; and __fish_seen_subcommand_from check" -l file -d 'A catalog file extending the embedded one for the comparison' -r -F
complete -c stampede -n "__fish_stampede_using_subcommand catalog; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand catalog; and __fish_seen_subcommand_from help" -f -a "check" -d 'Ask the Models API (`GET /v1beta/models`, every page) which models this project can call and compare them with the catalog: models it lists that the catalog lacks, catalog models it no longer lists, token limits that disagree. Sends no generation traffic; exit 1 when they differ'
complete -c stampede -n "__fish_stampede_using_subcommand catalog; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stampede -n "__fish_stampede_using_subcommand completions" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand man" -s h -l help -d 'Print help'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "run" -d 'Run a scenario once: prints a summary and writes summary.json, summary.md, timeseries.csv, report.html and latency.hlog'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "mock" -d 'Serve the Gemini-compatible mock on 127.0.0.1'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "report" -d 'Re-render summary.md, timeseries.csv, report.html and latency.hlog from a saved summary.json'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "validate" -d 'Check a scenario file without running it'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "traffic" -d 'Show the arrival profile and request mix a scenario would send, without sending anything'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "compare" -d 'Run several strategies on identical traffic and compare them side by side'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "plan" -d 'Find the fewest workers that meet the scenario\'s [slo], per candidate calling plan'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "proxy" -d 'Forward an application\'s calls to Gemini (or the mock), record them as a replayable trace, and optionally inject 429s, 503s and latency'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "calibrate" -d 'Fit a mock profile (latency vs input, decode speed, answer lengths, errors, quotas, token density) to recordings of real calls, with goodness of fit'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "merge" -d 'Merge the summaries of a run\'s shards (`run --shard I/N`) into the run\'s reports'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "diff" -d 'Compare two saved runs (summary.json) metric by metric; exit 1 on a regression'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "bench" -d 'Measure stampede itself on this machine'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "catalog" -d 'Print the model catalog in force: models, prices, tier presets\' limits and caps, and where and when each figure was read'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "completions" -d 'Print a shell completion script: bash, zsh, fish, elvish or powershell'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "man" -d 'Print the man page (roff), e.g. `stampede man > /usr/local/share/man/man1/stampede.1`'
complete -c stampede -n "__fish_stampede_using_subcommand help; and not __fish_seen_subcommand_from run mock report validate traffic compare plan proxy calibrate merge diff bench catalog completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stampede -n "__fish_stampede_using_subcommand help; and __fish_seen_subcommand_from bench" -f -a "sim" -d 'Simulator speed: Poisson arrivals, 16 workers, an RPM quota, exponential retries'
complete -c stampede -n "__fish_stampede_using_subcommand help; and __fish_seen_subcommand_from bench" -f -a "mock" -d 'Mock HTTP throughput (zero latency) against a bare axum hello-world, same load generator'
complete -c stampede -n "__fish_stampede_using_subcommand help; and __fish_seen_subcommand_from bench" -f -a "proxy" -d 'What `stampede proxy` adds to an unloaded call: calls one at a time to a zero-latency mock, alternately direct and through a recording proxy; latency percentiles of both'
complete -c stampede -n "__fish_stampede_using_subcommand help; and __fish_seen_subcommand_from bench" -f -a "live" -d 'The live load generator against a zero-latency mock in its own process (or `--url`): closed-loop capacity, an open loop at a constant rate, CPU time per request, memory'
complete -c stampede -n "__fish_stampede_using_subcommand help; and __fish_seen_subcommand_from catalog" -f -a "check" -d 'Ask the Models API (`GET /v1beta/models`, every page) which models this project can call and compare them with the catalog: models it lists that the catalog lacks, catalog models it no longer lists, token limits that disagree. Sends no generation traffic; exit 1 when they differ'
