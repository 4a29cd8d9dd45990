function info = bridge_diagnose(varargin)
%BRIDGE_DIAGNOSE  Show which Python the bridge wrappers run and whether it can do the job.
%   BRIDGE_DIAGNOSE prints the interpreter the wrappers would use, where that choice came from,
%   the command line, its Python version and whether numpy, scipy, h5py, typer and bridge import.
%   BRIDGE_DIAGNOSE('Python', PYTHON) checks the interpreter PYTHON instead.
%   It also says whether a warm server (BRIDGE_SERVE) runs and answers this Python's bridge.
%   And where the compiled clients of the warm worker are (the MEX client, the command-line
%   client; built on first use where a compiler works, see BRIDGE_SETUP), or that they are not.
%   INFO = BRIDGE_DIAGNOSE(...) returns the same as a struct (fields python, source, executable,
%   command, status, output, ok, server (logical), server_status (its one-line report), mex and
%   client (paths, '' when not built)) and prints nothing.
%
%   The check runs what the wrappers' calls run: EXECUTABLE is the interpreter behind a launcher
%   such as pyenv's shim (sys.executable, asked once per session), started as a call starts it.
%   OK is true when its exit status is 0 and its last line says that everything imports.
%
%   The interpreter is, in this order: the 'Python' option, the environment variable
%   BRIDGE_PYTHON, getpref('bridge', 'python'), then python3 (python on Windows).
%
%   Errors: bridge:badOption (the 'Python' option is not text), MATLAB:maxrhs.
%
%   See also BRIDGE_CONV, BRIDGE_CONV2, BRIDGE_CONVN.
[args, option] = bridge_options(varargin);
bridge_nargs(args, 0, 0);
[python, source, problem] = bridge_python('bridge_diagnose', option);
% The check runs what a wrapper's call runs (bridge_call): the interpreter behind a launcher, as
% bridge_resolve_python found it for this session, started the same way. A launcher run again
% could start another Python, or the same one with other flags, than the calls do.
executable = python;
verdict = '';
if ~isempty(problem)
  status = 127;
  output = sprintf('%s does not exist.', python);
else
  [executable, status] = bridge_resolve_python(python);
  if bridge_cannot_run(status)
    output = sprintf('%s cannot be run (exit status %d).', python, status);
  else
    [status, lines, output] = bridge_probe(executable, {'--diagnose'}, '--diagnose--');
    % The verdict is the worker's last line: with exit status 0 it is what says the check ran
    % to its end in the worker, whatever else (a sitecustomize's warning) was printed.
    if ~isempty(lines) && strncmp(lines{end}, '--diagnose-- ', 13)
      verdict = lines{end}(14:end);
    end
    output = report(output);
  end
end
command = bridge_command(executable, {'--diagnose'});
result = struct('python', python, 'source', source, 'executable', executable, ...
  'command', command, 'status', status, 'output', output, ...
  'ok', status == 0 && strcmp(verdict, 'ok'), 'server', false, 'server_status', '', ...
  'mex', '', 'client', '');
if result.ok
  [server_status, lines] = bridge_probe(executable, {'--serve', 'status'}, '');
  result.server = server_status == 0;
  result.server_status = strtrim(lines{end});
  result.mex = bridge_built('mex');
  result.client = bridge_built('client');
end
if nargout > 0
  info = result;
  return
end
if exist('OCTAVE_VERSION', 'builtin') ~= 0
  host = ['Octave ' OCTAVE_VERSION];
else
  host = ['MATLAB ' version];
end
fprintf('bridge_diagnose (%s, %s)\n', host, computer);
fprintf('Python:  %s (from %s)\n', python, source);
if ~strcmp(executable, python)
  fprintf('runs:    %s (what %s starts, asked once per session)\n', executable, python);
end
fprintf('command: %s\n', command);
fprintf('status:  %d\n', status);
fprintf('%s\n', result.output);
if result.ok
  if result.server
    fprintf('server:  %s\n', result.server_status);
  else
    fprintf('server:  none (%s); bridge_serve(''start'') starts one\n', result.server_status);
  end
  fprintf('MEX client:          %s\n', built(result.mex));
  fprintf('command-line client: %s\n', built(result.client));
  fprintf('OK: the wrappers can run this Python.\n');
elseif strncmp(verdict, 'missing', 7)
  fprintf('PROBLEM: this Python lacks a package above; install bridge there (pip install -e .).\n');
elseif ~isempty(verdict)
  fprintf('PROBLEM: this Python checked its packages, then exited with status %d.\n', status);
elseif status == 0
  fprintf(['PROBLEM: this command exited with status 0 but did not run the check of ' ...
    'bridge_worker.py; is it a Python? %s\n'], bridge_python_advice());
else
  fprintf('PROBLEM: this Python cannot be started. %s\n', bridge_python_advice());
end
end

function text = built(path)
if isempty(path)
  text = 'not built (bridge_setup builds it; calls go through files meanwhile)';
else
  text = path;
end
end

function text = report(output)
% What the check printed, without its marker and verdict lines.
lines = regexp(strtrim(output), '[\r\n]+', 'split');
keep = ~strcmp(lines, '--diagnose--') & ~strncmp(lines, '--diagnose-- ', 13);
text = strtrim(sprintf('%s\n', lines{keep}));
end
