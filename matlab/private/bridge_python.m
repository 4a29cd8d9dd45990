function [python, source, problem] = bridge_python(caller, option)
%BRIDGE_PYTHON  The interpreter that runs the worker, where the choice came from, and what is wrong.
%   [PYTHON, SOURCE, PROBLEM] = BRIDGE_PYTHON(CALLER, OPTION) takes, in this order: OPTION (the
%   'Python' option of the call) when not empty, the environment variable BRIDGE_PYTHON,
%   getpref('bridge', 'python'), then python3 (python on Windows). MATLAB started from the macOS
%   Dock has a short PATH and conda environments are not on it, hence the explicit choices first.
%   PROBLEM is '' or the message of a bridge:pythonNotFound error: an absolute path that does not
%   exist is reported here, a bare name is looked up on PATH by the shell (exit status 127).
if ~isempty(option)
  python = option;
  source = 'the ''Python'' option';
elseif ~isempty(getenv('BRIDGE_PYTHON'))
  python = getenv('BRIDGE_PYTHON');
  source = 'the environment variable BRIDGE_PYTHON';
elseif ispref('bridge', 'python')
  python = char(getpref('bridge', 'python'));
  source = 'getpref(''bridge'', ''python'')';
elseif ispc
  python = 'python';
  source = 'the default';
else
  python = 'python3';
  source = 'the default';
end
problem = '';
if isabsolute(python) && exist(python, 'file') ~= 2
  problem = sprintf('%s: the Python interpreter %s (from %s) does not exist. %s', ...
    caller, python, source, bridge_python_advice());
end
end

function tf = isabsolute(path)
% /x on Unix; C:\x, C:/x and \\server\x on Windows.
if ispc
  tf = ~isempty(regexp(path, '^([A-Za-z]:[\\/]|\\\\)', 'once'));
else
  tf = strncmp(path, '/', 1);
end
end
