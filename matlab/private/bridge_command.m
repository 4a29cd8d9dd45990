function cmd = bridge_command(python, args, host, client)
%BRIDGE_COMMAND  The shell command that runs the worker script with ARGS (a cell of char).
%   CMD = BRIDGE_COMMAND(PYTHON, ARGS) is for system(). The worker is bridge_worker.py next to this
%   file: it imports the bridge of the checkout it sits in, if any, else the installed one. It
%   runs under python -S, so that a job taken by a running `bridge serve` does not pay for
%   site-packages; the worker sets them up itself before it runs a job (see bridge_worker.py).
%
%   Every word is quoted for the shell system() uses: POSIX single quotes on Unix, where a quote
%   inside becomes '\'' (this holds for csh too, which MATLAB may use); double quotes on Windows,
%   where paths cannot contain one. No redirection or pipes: the shell may be csh. Only paths go on
%   the command line (Windows caps it near 8,000 characters); data goes through files.
%
%   Under MATLAB on Linux, MATLAB's own LD_LIBRARY_PATH (its libstdc++, HDF5, expat) breaks numpy,
%   scipy and h5py in the child ("GLIBCXX_... not found"), so the child runs under
%   env -u LD_LIBRARY_PATH; DYLD_LIBRARY_PATH likewise on macOS. MATLAB's own environment is never
%   changed. Octave sets neither, so its users' settings pass through untouched.
%
%   CMD = BRIDGE_COMMAND(PYTHON, ARGS, HOST) builds the command of another host, for tests: HOST
%   is a struct with logical fields matlab, windows and mac (default: this one).
%
%   CMD = BRIDGE_COMMAND(PYTHON, ARGS, HOST, CLIENT) runs the job through the compiled client
%   CLIENT = {PATH, PACKAGE} (bridge_client.c): it hands the job to the warm worker without
%   starting Python, and runs PYTHON -S bridge_worker.py --cold ARGS in its place when the worker
%   cannot take it. CLIENT = {'--cold'} runs the worker with --cold: the server was asked already.
if nargin < 3 || isempty(host)
  host = struct('matlab', exist('OCTAVE_VERSION', 'builtin') == 0, 'windows', ispc, 'mac', ismac);
end
worker = fullfile(fileparts(mfilename('fullpath')), 'bridge_worker.py');
if nargin >= 4 && numel(client) == 2
  words = [{client{1}, client{2}, python, worker}, args(:)'];
elseif nargin >= 4 && numel(client) == 1
  words = [{python, '-S', worker, '--cold'}, args(:)'];
else
  words = [{python, '-S', worker}, args(:)'];
end
for k = 1:numel(words)
  if host.windows
    words{k} = ['"' words{k} '"'];
  else
    words{k} = ['''' strrep(words{k}, '''', '''\''''') ''''];
  end
end
cmd = sprintf('%s ', words{:});
cmd = cmd(1:end - 1);
if host.windows
  % cmd.exe /c drops the first and the last quote of a command that starts with one.
  cmd = ['"' cmd '"'];
elseif host.matlab && host.mac
  cmd = ['env -u DYLD_LIBRARY_PATH ' cmd];
elseif host.matlab
  cmd = ['env -u LD_LIBRARY_PATH ' cmd];
end
end
