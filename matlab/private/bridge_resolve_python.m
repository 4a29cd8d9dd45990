function [exe, status] = bridge_resolve_python(python)
%BRIDGE_RESOLVE_PYTHON  The interpreter behind PYTHON as the path Python itself reports.
%   [EXE, STATUS] = BRIDGE_RESOLVE_PYTHON(PYTHON) is sys.executable of PYTHON, asked once per MATLAB
%   session for each PYTHON, current folder and PYENV_VERSION. A launcher such as pyenv's shim
%   (a shell script that picks a version by the folder) costs 50-100 ms on every system() call,
%   more than a warm call's whole work. EXE is PYTHON itself when the answer cannot be trusted:
%   the call failed, the path does not exist, or PYTHON runs Python with other PYTHON*
%   environment variables than MATLAB's (a wrapper script that sets PYTHONPATH, for example).
%
%   STATUS is the exit status of the question (asked by bridge_probe, which never shows its
%   stderr). Where BRIDGE_CANNOT_RUN(STATUS), PYTHON cannot be run: the callers raise
%   bridge:pythonNotFound at once, as the job's shell would only print its "not found" line
%   again. That answer is not remembered, so that a Python installed meanwhile is found.
persistent keys exes statuses
if isempty(keys)
  keys = {};
  exes = {};
  statuses = {};
end
key = [python char(0) pwd char(0) getenv('PYENV_VERSION')];
found = find(strcmp(keys, key), 1);
if ~isempty(found)
  exe = exes{found};
  status = statuses{found};
  return
end
exe = python;
[status, lines] = bridge_probe(python, {'--executable'}, '--executable--');
if bridge_cannot_run(status)
  return
end
if status == 0 && ~isempty(lines)
  candidate = lines{1};
  same = exist(candidate, 'file') == 2;
  for k = 2:numel(lines)
    pair = regexp(lines{k}, '^([^=]+)=(.*)$', 'tokens', 'once');
    same = same && numel(pair) == 2 && strcmp(getenv(pair{1}), pair{2});
  end
  if same
    exe = candidate;
  end
end
keys{end + 1} = key;
exes{end + 1} = exe;
statuses{end + 1} = status;
end
