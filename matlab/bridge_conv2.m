function C = bridge_conv2(varargin)
%BRIDGE_CONV2  MATLAB's conv2, computed by the Python worker of bridge.
%   C = BRIDGE_CONV2(A, B) is the two-dimensional convolution of the matrices A and B, as
%   CONV2(A, B).
%   C = BRIDGE_CONV2(U, V, A) convolves the columns of A with the vector U, then the rows of that
%   with the vector V, as CONV2(U, V, A).
%   C = BRIDGE_CONV2(..., SHAPE) returns the 'full' (default), 'same' or 'valid' part.
%   C = BRIDGE_CONV2(..., 'Python', PYTHON) runs the interpreter PYTHON (a path or a command name).
%
%   The result has CONV2's size and class: single if an input is single, double otherwise
%   (integer and logical inputs included), complex if an input is complex.
%
%   The interpreter is, in this order: the 'Python' option, the environment variable
%   BRIDGE_PYTHON, getpref('bridge', 'python'), then python3 (python on Windows); see BRIDGE_CONV.
%
%   Errors (identifiers), as MATLAB's conv2 where MATLAB has one:
%     MATLAB:conv2:unknownShapeParameter       SHAPE is not 'full', 'same' or 'valid'
%     MATLAB:conv2:firstTwoInputsNotVectors    U or V is not a vector (separable form)
%     MATLAB:conv2:inputType                   A or B is not numeric or logical
%     MATLAB:conv2:inputTypeSeparable          U, V or A is not numeric or logical
%     bridge:conv2:notMatrix                   an operand has more than two dimensions
%     MATLAB:minrhs, MATLAB:maxrhs             too few or too many arguments
%     bridge:pythonNotFound                    the interpreter does not exist or cannot be started
%     bridge:pythonEnv                         it cannot import numpy, scipy, h5py, typer or bridge
%     bridge:badOption                         the 'Python' option is not text
%     bridge:tempFolder                        no temporary folder can be created
%     bridge:noOutput                          the worker succeeded but wrote no result
%     bridge:workerFailed                      any other failure of the worker
%
%   Example:
%     C = bridge_conv2(magic(4), [1 2; 3 4], 'same')
%
%   See also CONV2, BRIDGE_CONV, BRIDGE_CONVN, BRIDGE_DIAGNOSE.
[args, python] = bridge_options(varargin);
bridge_nargs(args, 2, 4);
if numel(args) == 4 || (numel(args) == 3 && ~bridge_istext(args{3}))
  % conv2(u, v, A) and conv2(u, v, A, shape): the separable form.
  shape = bridge_shape(args, 4, 'MATLAB:conv2:unknownShapeParameter');
  operands = bridge_operands(args(1:3), true);
  C = bridge_call('bridge_conv2', 'conv2', {'u', 'v', 'A'}, operands, shape, python);
else
  shape = bridge_shape(args, 3, 'MATLAB:conv2:unknownShapeParameter');
  operands = bridge_operands(args(1:2));
  for k = 1:2  % checked here: an N-D array would be saved and Python started for nothing
    if ndims(operands{k}) > 2
      dims = sprintf('%dx', size(operands{k}));
      error('bridge:conv2:notMatrix', '%s', sprintf(['N-D arrays are not supported. Got a ' ...
        '%s array; use convn for more than two dimensions.'], dims(1:end - 1)));
    end
  end
  C = bridge_call('bridge_conv2', 'conv2', {'A', 'B'}, operands, shape, python);
end
end
