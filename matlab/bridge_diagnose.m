function info = bridge_diagnose(varargin)
%BRIDGE_DIAGNOSE  Show which Python the bridge wrappers run and whether it can do the job.
%   BRIDGE_DIAGNOSE prints the interpreter the wrappers would use, where that choice came from,
%   the command line, its Python version and whether numpy, scipy, h5py, typer and bridge import.
%   BRIDGE_DIAGNOSE('Python', PYTHON) checks the interpreter PYTHON instead.
%   It also says whether a warm server (BRIDGE_SERVE) runs and answers this Python's bridge.
%   And where the compiled clients of the warm worker are (the MEX client, the command-line
%   client; built on first use where a compiler works, see BRIDGE_SETUP), or that they are not.
%   INFO = BRIDGE_DIAGNOSE(...) returns the same as a struct (fields python, source, command,
%   status, output, ok, server (logical), server_status (its one-line report), mex and client
%   (paths, '' when not built)) and prints nothing.
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
command = bridge_command(python, {'--diagnose'});
if isempty(problem)
  [status, output] = system(command);
else
  status = 127;
  output = sprintf('%s does not exist.', python);
end
% Exit status 0: everything imports; 5: something does not; anything else: Python did not run.
result = struct('python', python, 'source', source, 'command', command, 'status', status, ...
  'output', strtrim(output), 'ok', status == 0, 'server', false, 'server_status', '', ...
  'mex', '', 'client', '');
if status == 0
  [server_status, server_output] = system(bridge_command(python, {'--serve', 'status'}));
  lines = regexp(strtrim(server_output), '[\r\n]+', 'split');
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
fprintf('command: %s\n', command);
fprintf('status:  %d\n', status);
fprintf('%s\n', result.output);
if status == 0
  if result.server
    fprintf('server:  %s\n', result.server_status);
  else
    fprintf('server:  none (%s); bridge_serve(''start'') starts one\n', result.server_status);
  end
  fprintf('MEX client:          %s\n', built(result.mex));
  fprintf('command-line client: %s\n', built(result.client));
  fprintf('OK: the wrappers can run this Python.\n');
elseif status == 5
  fprintf('PROBLEM: this Python lacks a package above; install bridge there (pip install -e .).\n');
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
