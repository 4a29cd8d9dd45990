function exe = bridge_resolve_python(python)
%BRIDGE_RESOLVE_PYTHON  The interpreter behind PYTHON as the path Python itself reports.
%   EXE = BRIDGE_RESOLVE_PYTHON(PYTHON) is sys.executable of PYTHON, asked once per MATLAB
%   session for each PYTHON, current folder and PYENV_VERSION. A launcher such as pyenv's shim
%   (a shell script that picks a version by the folder) costs 50-100 ms on every system() call,
%   more than a warm call's whole work. EXE is PYTHON itself when the answer cannot be trusted:
%   the call failed, the path does not exist, or PYTHON runs Python with other PYTHON*
%   environment variables than MATLAB's (a wrapper script that sets PYTHONPATH, for example).
persistent keys exes
if isempty(keys)
  keys = {};
  exes = {};
end
key = [python char(0) pwd char(0) getenv('PYENV_VERSION')];
found = find(strcmp(keys, key), 1);
if ~isempty(found)
  exe = exes{found};
  return
end
exe = python;
[status, out] = system(bridge_command(python, {'--executable'}));
lines = regexp(strtrim(out), '[\r\n]+', 'split');
start = find(strcmp(lines, '--executable--'), 1, 'last');
if status == 0 && ~isempty(start) && start < numel(lines)
  candidate = lines{start + 1};
  same = exist(candidate, 'file') == 2;
  for k = start + 2:numel(lines)
    pair = regexp(lines{k}, '^([^=]+)=(.*)$', 'tokens', 'once');
    same = same && numel(pair) == 2 && strcmp(getenv(pair{1}), pair{2});
  end
  if same
    exe = candidate;
  end
end
keys{end + 1} = key;
exes{end + 1} = exe;
end
