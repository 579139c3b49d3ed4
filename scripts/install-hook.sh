#!/bin/sh
# Installs bpfunit's pre-commit hook (`make precommit`) in the git repository of the current
# directory without destroying one already there: a hook that is not bpfunit's is moved to
# pre-commit.local and run first. Installing again only rewrites bpfunit's hook. When both a
# foreign pre-commit and a pre-commit.local exist, nothing is touched and the script says why.
set -eu

hooks=$(git rev-parse --git-path hooks)
hook=$hooks/pre-commit
local_hook=$hooks/pre-commit.local
marker='# installed by bpfunit'  # the line that starts every bpfunit hook, old ones included

mkdir -p "$hooks"
if [ -e "$hook" ] || [ -L "$hook" ]; then
	if ! grep -q "^$marker" "$hook" 2>/dev/null; then
		if [ -e "$local_hook" ] || [ -L "$local_hook" ]; then
			echo "install-hook: $hook is not bpfunit's and $local_hook exists too: not touching either." >&2
			echo "install-hook: merge them into $local_hook by hand, then run this again." >&2
			exit 1
		fi
		mv "$hook" "$local_hook"
		echo "install-hook: kept your hook as $local_hook (it runs first)"
	fi
fi

tmp=$hook.bpfunit-new
cat >"$tmp" <<EOF
#!/bin/sh
$marker (scripts/install-hook.sh): the hook that was here before, then \`make precommit\`.
local_hook="\$(dirname "\$0")/pre-commit.local"
if [ -x "\$local_hook" ]; then
	"\$local_hook" "\$@" || exit \$?
fi
exec make -s -C "\$(git rev-parse --show-toplevel)" precommit
EOF
chmod +x "$tmp"
mv "$tmp" "$hook"
echo "installed $hook"
